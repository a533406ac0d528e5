"""`intake quarantine list|retry ID`: what could not be processed, and why."""

from __future__ import annotations

import argparse

from pipeline.cli import common, output
from pipeline.store import queries, views
from pipeline.tickets import ingest

COLUMNS = ("id", "source", "received_at", "reason")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("quarantine", help="inputs that could not be processed")
    verbs = common.add_subcommands(parser)
    output.add_json_option(verbs.add_parser("list", help="list quarantined inputs")).set_defaults(func=list_items)
    retry = output.add_json_option(verbs.add_parser("retry", help="process a quarantined input again"))
    retry.add_argument("id", type=int)
    retry.set_defaults(func=retry_item)


def list_items(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        rows = [views.raw_row(raw) for raw in queries.quarantined(session)]
    output.emit(rows, COLUMNS, args.json)
    return 0


def retry_item(args: argparse.Namespace) -> int:
    with common.runtime() as rt:
        result = ingest.retry_quarantined(rt, args.id)
    output.emit_one(result.as_dict(), args.json)
    return 0 if result.status != "quarantined" else 1
