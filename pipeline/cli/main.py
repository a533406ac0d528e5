"""`intake <noun> <verb>`: the command line. Errors become one line on stderr and a non-zero exit.

Exit codes (README "Commands"): 0 done; 1 the command ran but some items were rejected or failed (rows of
`customers import`, sends of `outbox send` / `jobs run-due`, mailboxes of `imap poll-once`); 2 usage, input
or configuration the user must fix (argparse's own errors are 2 too); 3 no such ticket, call or item;
4 the environment is unavailable: the database, or a listen address.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import OperationalError

from pipeline import __version__
from pipeline.cli import (
    calendar,
    calls,
    customers,
    db,
    imap,
    ingest,
    jobs,
    outbox,
    quarantine,
    reminders,
    serve,
    tickets,
    triage,
    visits,
)
from pipeline.errors import CannotListen, ConfigError, IntakeError, NotFound, StoreUnavailable, UsageError

COMMANDS = (serve, db, ingest, triage, tickets, customers, outbox, quarantine, imap, calls, calendar, jobs,
            reminders, visits)
USAGE, NOT_FOUND, UNAVAILABLE = 2, 3, 4  # and 1: the command ran, some items were rejected
EXIT_CODES: dict[type[IntakeError], int] = {
    ConfigError: USAGE, UsageError: USAGE, NotFound: NOT_FOUND, StoreUnavailable: UNAVAILABLE,
    CannotListen: UNAVAILABLE,
}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LocalTimeFormatter(logging.Formatter):
    """Log times in the host's local time with its offset, ISO 8601 like every time intake prints:
    2026-03-02T17:15:02.431+08:00 rather than logging's offset-less 2026-03-02 17:15:02,431."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


def configure_logging(verbose: int) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(LocalTimeFormatter(LOG_FORMAT))
    logging.basicConfig(level=logging.WARNING - 10 * verbose, handlers=[handler])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intake",
        description="Support mail and hotline calls in; tickets, SLA deadlines and acknowledgements out.",
    )
    parser.add_argument("--version", action="version", version=f"intake {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    nouns = parser.add_subparsers(dest="noun", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(nouns)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except IntakeError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return EXIT_CODES.get(type(exc), 1)
    except OperationalError as exc:  # the database refused or dropped the connection where no layer wrapped it
        reason = str(exc.orig or exc).strip().splitlines()[0]
        print(f"intake: the database is unavailable (INTAKE_DATABASE_URL): {reason}", file=sys.stderr)
        return UNAVAILABLE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
