"""`intake calls list|show`: the hotline's call log."""

from __future__ import annotations

import argparse

from pipeline.cli import common, output
from pipeline.errors import NotFound
from pipeline.store import models, queries, views

COLUMNS = ("call_sid", "from", "customer", "status", "started_at", "duration", "ticket", "callback_due")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("calls", help="the hotline's call log")
    verbs = common.add_subcommands(parser)
    listing = output.add_json_option(verbs.add_parser("list", help="calls, newest first"))
    listing.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    listing.set_defaults(func=list_calls)
    show = output.add_json_option(verbs.add_parser("show", help="one call with its transcription and callbacks"))
    show.add_argument("call_sid", metavar="CALLSID")
    show.set_defaults(func=show_call)


def list_calls(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        found = queries.calls(session, limit=args.limit)
        customers = {c.id: c for c in queries.customers(session)}
        tickets = {i: session.get(models.Ticket, i) for i in {c.ticket_id for c in found if c.ticket_id}}
        rows = [views.call_row(call, customers.get(call.customer_id or -1), tickets.get(call.ticket_id or -1),
                               rt.settings.timezone) for call in found]
    output.emit(rows, COLUMNS, args.json)
    return 0


def show_call(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        call = queries.call_by_sid(session, args.call_sid)
        if call is None:
            raise NotFound(f"no call {args.call_sid}: see `intake calls list`")
        row = views.call_detail(session, call, rt.settings.timezone)
    output.emit_one(row, args.json)
    if not args.json:
        if row["transcription"]:
            print(f"\n--- transcription ({row['transcription_source']})\n{row['transcription']}")
        print("\n--- callbacks received")
        for event in row["callbacks"]:
            error = f"  ERROR {event['error']}" if event["error"] else ""
            print(f"{event['received_at']}  {event['kind']:<13} {event['status'] or '-'}{error}")
    return 0
