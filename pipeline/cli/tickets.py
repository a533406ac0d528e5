"""`intake tickets list|show|resolve|reopen|severity|respond`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sqlalchemy.orm import Session

from pipeline.cli import common, output
from pipeline.errors import NotFound
from pipeline.records import Severity
from pipeline.runtime import Runtime
from pipeline.store import db, models, queries, views
from pipeline.tickets import service

COLUMNS = ("number", "status", "severity", "language", "customer", "received_at", "response_due", "subject")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("tickets", help="list, show and change tickets")
    verbs = common.add_subcommands(parser)
    listing = output.add_json_option(verbs.add_parser("list", help="list tickets, newest first"))
    listing.add_argument("--status", choices=("open", "waiting", "resolved"))
    listing.set_defaults(func=list_tickets)
    show = output.add_json_option(verbs.add_parser("show", help="one ticket with its messages"))
    show.add_argument("number")
    show.set_defaults(func=show_ticket)
    for name, helptext, action in (
        ("resolve", "mark resolved (starts the follow-up visit clock)", resolve),
        ("reopen", "reopen a resolved ticket", reopen),
        ("respond", "record the first response to the customer", respond),
        ("wait", "waiting for the customer: pauses the resolve clock", wait),
    ):
        verb = output.add_json_option(verbs.add_parser(name, help=helptext))
        verb.add_argument("number")
        verb.add_argument("--at", help="when (ISO 8601; default now)")
        verb.set_defaults(func=change(action))
    severity = output.add_json_option(verbs.add_parser("severity", help="set the severity (1-4)"))
    severity.add_argument("number")
    severity.add_argument("level", type=int, choices=[int(s) for s in Severity])
    severity.set_defaults(func=change(set_severity))


def list_tickets(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        found = queries.tickets(session, status=args.status)
        customers = {c.id: c for c in queries.customers(session)}
        rows = [views.ticket_row(t, customers.get(t.customer_id or -1)) for t in found]
    output.emit(rows, COLUMNS, args.json)
    return 0


def _ticket(session: Session, number: str) -> models.Ticket:
    ticket = queries.ticket_by_number(session, number)
    if ticket is None:
        raise NotFound(f"no ticket {number}: see `intake tickets list`")
    return ticket


def show_ticket(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        row = views.ticket_detail(session, _ticket(session, args.number))
    output.emit_one(row, args.json)
    if not args.json:
        for message in row["messages"]:
            print(f"\n--- {message['direction']} {message['kind']} {message['at']} {message['from'] or ''}")
            print(f"    {message['subject'] or ''}")
            if message["automatic"]:
                print(f"    (no acknowledgement: {message['automatic']})")
            print(message["text"].strip()[:2000])
    return 0


Action = Callable[[Runtime, Session, models.Ticket, argparse.Namespace], None]


def change(action: Action) -> Callable[[argparse.Namespace], int]:
    """Run a change in one transaction and print the ticket after it."""

    def run(args: argparse.Namespace) -> int:
        with common.runtime() as rt:
            with db.transaction(rt.sessions) as session:
                ticket = _ticket(session, args.number)
                action(rt, session, ticket, args)
            with rt.sessions() as session:
                row = views.ticket_detail(session, _ticket(session, args.number))
        row.pop("messages")
        output.emit_one(row, args.json)
        return 0

    return run


def _at(rt: Runtime, args: argparse.Namespace):
    return common.parse_time(getattr(args, "at", None), rt.settings.zone) or rt.now()


def resolve(rt: Runtime, session: Session, ticket: models.Ticket, args: argparse.Namespace) -> None:
    service.resolve(ticket, _at(rt, args))


def reopen(rt: Runtime, session: Session, ticket: models.Ticket, args: argparse.Namespace) -> None:
    service.reopen(ticket, _at(rt, args))


def respond(rt: Runtime, session: Session, ticket: models.Ticket, args: argparse.Namespace) -> None:
    service.respond(ticket, _at(rt, args))


def wait(rt: Runtime, session: Session, ticket: models.Ticket, args: argparse.Namespace) -> None:
    service.wait_for_customer(ticket, _at(rt, args))


def set_severity(rt: Runtime, session: Session, ticket: models.Ticket, args: argparse.Namespace) -> None:
    ticket.severity = args.level
    ticket.severity_reason = "set by staff"
    customer = session.get(models.Customer, ticket.customer_id) if ticket.customer_id else None
    service.apply_deadlines(rt.ticket_context, ticket, customer)
    ticket.updated_at = rt.now()
