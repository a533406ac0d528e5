"""`intake ingest PATH...`: .eml files, folders, mbox and Maildir into tickets, one JSON line per message.

Each message arrives when its own headers say it did (pipeline/mail/dates.py: the topmost Received:, else
Date:, never after now), unless --received-at names one time for all: importing last month's mail must
not start new SLA clocks, nor send acknowledgements nobody waits for any more.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from pipeline.channels import files
from pipeline.cli import common, output
from pipeline.mail import dates
from pipeline.records import IngestResult, RawInput
from pipeline.tickets import bulk

COLUMNS = ("source", "status", "ticket", "language", "severity", "reason")
BATCH = 200


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("ingest", help="turn .eml files, folders, mbox and Maildir into tickets")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--received-at", help="arrival time for all messages (ISO 8601); default: each message's "
                        "topmost Received: date, else its Date:, never later than now")
    parser.add_argument("--batch-size", type=int, default=BATCH, help="messages per transaction")
    output.add_json_option(parser)
    parser.set_defaults(func=run)


def progress(results: Iterator[IngestResult]) -> Iterator[IngestResult]:
    """A count on the terminal's last line while a large import runs."""
    for done, result in enumerate(results, 1):
        print("\r\x1b[K", end="", file=sys.stderr)
        yield result
        if done % 50 == 0:
            print(f"  {done} messages ingested…", end="", file=sys.stderr, flush=True)
    print("\r\x1b[K", end="", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    with common.runtime() as rt:
        given = common.parse_time(args.received_at, rt.settings.zone)
        now = rt.now()
        items = (RawInput(raw=raw, source=source, received_at=given or dates.arrival_at_of(raw, now))
                 for source, raw in files.read_messages(args.paths))
        results = bulk.ingest_all(rt, items, batch_size=max(1, args.batch_size))
        show_progress = sys.stderr.isatty() and not args.json
        output.stream((row.as_dict() for row in (progress(results) if show_progress else results)), COLUMNS,
                      args.json)
    return 0
