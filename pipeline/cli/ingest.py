"""`intake ingest PATH...`: .eml files, folders, mbox and Maildir into tickets, one JSON line per message."""

from __future__ import annotations

import argparse
import itertools
import sys

from pipeline.channels import files
from pipeline.cli import common, output
from pipeline.records import RawInput
from pipeline.tickets import ingest

COLUMNS = ("source", "status", "ticket", "language", "severity", "reason")
BATCH = 200


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("ingest", help="turn .eml files, folders, mbox and Maildir into tickets")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--received-at", help="arrival time for all messages (ISO 8601; backfills)")
    parser.add_argument("--batch-size", type=int, default=BATCH, help="messages per transaction")
    output.add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with common.runtime() as rt:
        received_at = common.parse_time(args.received_at, rt.settings.zone) or rt.now()
        messages = files.read_messages(args.paths)
        progress = sys.stderr.isatty() and not args.json
        done = 0
        while batch := list(itertools.islice(messages, max(1, args.batch_size))):
            items = [RawInput(raw=raw, source=source, received_at=received_at) for source, raw in batch]
            results = ingest.ingest(rt, items)
            if progress:
                print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
            output.stream((r.as_dict() for r in results), COLUMNS, args.json)
            done += len(results)
            if progress:
                print(f"\r  {done} messages ingested…", end="", file=sys.stderr, flush=True)
        if progress:
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
    return 0
