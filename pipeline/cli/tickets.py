"""`intake tickets list|show|resolve|reopen|severity|respond|onsite|wait|resume|part-needed`.

Every change runs in one transaction with the ticket's replanning (pipeline.jobs.scheduler.plan_ticket),
so `intake reminders list` agrees with the ticket at once: a response cancels the response clock's
warning and escalation, an arrival on site those of the on-site clock, a new severity moves them, a
resolution plans the follow-up visit. `--at`
says when the change happened (default now); planning happens as of that instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from pipeline.cli import common, output
from pipeline.errors import NotFound
from pipeline.jobs import scheduler
from pipeline.records import Severity
from pipeline.runtime import Runtime
from pipeline.sla import cutoff
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
        ("resolve", "mark resolved (plans the follow-up visit)", resolve),
        ("reopen", "reopen a resolved ticket", reopen),
        ("respond", "record the first response to the customer (stops the response clock)", respond),
        ("onsite", "record the engineer's arrival on site (stops the on-site clock)", onsite),
        ("wait", "waiting for the customer: pauses the resolve clock", wait),
        ("resume", "no longer waiting: the resolve clock runs again, later by the pause", resume),
        ("part-needed", "a spare part is needed: dispatch today before the 15:00 cut-off, else next working day",
         part_needed),
    ):
        verb = output.add_json_option(verbs.add_parser(name, help=helptext))
        verb.add_argument("number")
        verb.add_argument("--at", help="when (ISO 8601; default now)")
        verb.set_defaults(func=change(action))
    severity = output.add_json_option(verbs.add_parser("severity", help="set the severity (1-4): new deadlines"))
    severity.add_argument("number")
    severity.add_argument("level", type=int, choices=[int(s) for s in Severity])
    severity.add_argument("--at", help="when (ISO 8601; default now)")
    severity.set_defaults(func=change(set_severity))


def list_tickets(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        found = queries.tickets(session, status=args.status)
        customers = {c.id: c for c in queries.customers(session)}
        now = rt.now()
        rows = [views.ticket_row(t, customers.get(t.customer_id or -1), now) for t in found]
    output.emit(rows, COLUMNS, args.json)
    return 0


def _ticket(session: Session, number: str) -> models.Ticket:
    ticket = queries.ticket_by_number(session, number)
    if ticket is None:
        raise NotFound(f"no ticket {number}: see `intake tickets list`")
    return ticket


def show_ticket(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        row = views.ticket_detail(session, _ticket(session, args.number), rt.now())
    output.emit_one(row, args.json)
    if not args.json:
        for name, clock in row["sla"].items():
            left = clock["time_left_s"]
            print(f"{'sla ' + name:>18}: {clock['state']}" + (f", due {clock['due']}" if clock["due"] else "")
                  + (f", {left // 60} min left" if left is not None and clock["state"] == "running" else "")
                  + (" (paused)" if clock["paused"] else ""))
        for message in row["messages"]:
            print(f"\n--- {message['direction']} {message['kind']} {message['at']} {message['from'] or ''}")
            print(f"    {message['subject'] or ''}")
            if message["automatic"]:
                print(f"    (no acknowledgement: {message['automatic']})")
            print(message["text"].strip()[:2000])
    return 0


Action = Callable[[Runtime, Session, models.Ticket, datetime, argparse.Namespace], None]


def change(action: Action) -> Callable[[argparse.Namespace], int]:
    """Run a change and replan the ticket in one transaction; print the ticket after it."""

    def run(args: argparse.Namespace) -> int:
        with common.runtime() as rt:
            at = common.parse_time(args.at, rt.settings.zone) or rt.now()
            with db.transaction(rt.sessions) as session:
                ticket = _ticket(session, args.number)
                action(rt, session, ticket, at, args)
                ticket.updated_at = at
                scheduler.plan_ticket(rt, session, ticket, at)
            with rt.sessions() as session:
                row = views.ticket_detail(session, _ticket(session, args.number), at)
        row.pop("messages")
        if action is part_needed and not args.json:
            print(f"part dispatch on {row['part_dispatch_on']}")
        if action is onsite and row["onsite_due"] is None:  # a note, not an error: the arrival is recorded
            print(f"intake: {row['number']}: level {row['severity']} promises no on-site arrival; "
                  f"arrival recorded at {row['onsite_at']}", file=sys.stderr)
        output.emit_one(row, args.json)
        return 0

    return run


def _customer(session: Session, ticket: models.Ticket) -> models.Customer | None:
    return session.get(models.Customer, ticket.customer_id) if ticket.customer_id else None


def resolve(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime, args: argparse.Namespace) -> None:
    if ticket.status == service.WAITING:  # the pause ends: the resolve clock is judged with it
        service.resume(ticket, at, service.context(rt))
        service.apply_deadlines(service.context(rt), ticket, _customer(session, ticket))
    service.resolve(ticket, at)


def reopen(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime, args: argparse.Namespace) -> None:
    service.reopen(ticket, at)


def respond(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime, args: argparse.Namespace) -> None:
    service.respond(ticket, at)


def onsite(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime, args: argparse.Namespace) -> None:
    service.arrive_onsite(ticket, at)


def wait(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime, args: argparse.Namespace) -> None:
    service.wait_for_customer(ticket, at)


def resume(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime, args: argparse.Namespace) -> None:
    if ticket.status == service.WAITING:
        service.resume(ticket, at, service.context(rt))
        service.apply_deadlines(service.context(rt), ticket, _customer(session, ticket))


def set_severity(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime,
                 args: argparse.Namespace) -> None:
    ticket.severity = args.level
    ticket.severity_reason = "set by staff"
    service.apply_deadlines(service.context(rt), ticket, _customer(session, ticket))


def part_needed(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime,
                args: argparse.Namespace) -> None:
    ticket.part_dispatch_on = cutoff.part_dispatch_date(at, rt.calendar, rt.settings.zone,
                                                        cutoff.dispatch_cutoff(rt.policy))
