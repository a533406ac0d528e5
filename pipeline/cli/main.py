"""`intake <noun> <verb>`: the command line. Errors become one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

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
from pipeline.errors import ConfigError, IntakeError, NotFound, StoreUnavailable, UsageError

COMMANDS = (serve, db, ingest, triage, tickets, customers, outbox, quarantine, imap, calls, calendar, jobs,
            reminders, visits)
EXIT_CODES: dict[type[IntakeError], int] = {ConfigError: 2, UsageError: 2, NotFound: 3, StoreUnavailable: 4}


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
    level = logging.WARNING - 10 * args.verbose
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except IntakeError as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return EXIT_CODES.get(type(exc), 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
