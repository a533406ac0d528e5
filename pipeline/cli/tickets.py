"""`intake tickets list|show|resolve|reopen|severity|respond|onsite|wait|resume|part-needed`.

Every change runs in one transaction with the ticket's replanning (pipeline.jobs.scheduler.plan_ticket),
so `intake reminders list` agrees with the ticket at once: a response cancels the response clock's
warning and escalation, an arrival on site those of the on-site clock, a new severity moves them, a
resolution plans the follow-up visit. `--at`
says when the change happened (default now); planning happens as of that instant.

A response or an arrival on site is recorded once: a second one changes nothing and says when the first
was recorded (`already_recorded` in --json); `--correct` replaces a wrongly recorded time. Their `--at`
may not lie before the ticket arrived or in the future (beyond a minute of clock skew).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pipeline.cli import common, output
from pipeline.errors import NotFound, UsageError
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
        if action in RECORDED:
            verb.add_argument("--correct", action="store_true",
                              help=f"replace the {RECORDED[action]} time already recorded (a mistake)")
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
        print_sla(row)
        for message in row["messages"]:
            print(f"\n--- {message['direction']} {message['kind']} {message['at']} {message['from'] or ''}")
            print(f"    {message['subject'] or ''}")
            if message["automatic"]:
                print(f"    (no acknowledgement: {message['automatic']})")
            print(message["text"].strip()[:2000])
    return 0


def print_sla(row: dict[str, Any]) -> None:
    """The ticket's clocks under its fields: state, due and what is left of a running one."""
    for name, clock in row["sla"].items():
        left = clock["time_left_s"]
        state = "none (not promised)" if clock["state"] == views.NOT_PROMISED else clock["state"]
        print(f"{'sla ' + name:>18}: {state}" + (f", due {clock['due']}" if clock["due"] else "")
              + (f", {left // 60} min left" if left is not None and clock["state"] == "running" else "")
              + (" (paused)" if clock["paused"] else ""))


# A change returns the time a response or arrival was already recorded at when it kept it (nothing
# changed), else None.
Action = Callable[[Runtime, Session, models.Ticket, datetime, argparse.Namespace], datetime | None]


def change(action: Action) -> Callable[[argparse.Namespace], int]:
    """Run a change and replan the ticket in one transaction; print the ticket after it."""

    def run(args: argparse.Namespace) -> int:
        with common.runtime() as rt:
            at = common.parse_time(args.at, rt.settings.zone) or rt.now()
            with db.transaction(rt.sessions) as session:
                ticket = _ticket(session, args.number)
                kept = action(rt, session, ticket, at, args)
                if kept is None:
                    ticket.updated_at = at
                    scheduler.plan_ticket(rt, session, ticket, at)
            with rt.sessions() as session:
                row = views.ticket_detail(session, _ticket(session, args.number), at)
        row.pop("messages")
        if action in RECORDED:
            row["already_recorded"] = kept is not None
            _note_recorded(action, row, kept)
        if action is part_needed and not args.json:
            print(f"part dispatch on {row['part_dispatch_on']}")
        output.emit_one(row, args.json)
        if not args.json:
            print_sla(row)
        return 0

    return run


def _note_recorded(action: Action, row: dict[str, Any], kept: datetime | None) -> None:
    """Notes, not errors, on stderr: a time kept, or an arrival no level promised."""
    what = RECORDED[action]
    if kept is not None:
        recorded = row["first_response_at"] if action is respond else row["onsite_at"]
        print(f"intake: {row['number']}: {what} already recorded at {recorded}; kept (--correct replaces it)",
              file=sys.stderr)
    elif action is onsite and row["onsite_due"] is None:
        print(f"intake: {row['number']}: level {row['severity']} promises no on-site arrival; "
              f"arrival recorded at {row['onsite_at']}", file=sys.stderr)


def _customer(session: Session, ticket: models.Ticket) -> models.Customer | None:
    return session.get(models.Customer, ticket.customer_id) if ticket.customer_id else None


def resolve(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime, args: argparse.Namespace) -> None:
    if ticket.status == service.WAITING:  # the pause ends: the resolve clock is judged with it
        service.resume(ticket, at, service.context(rt))
        service.apply_deadlines(service.context(rt), ticket, _customer(session, ticket))
    service.resolve(ticket, at)


def reopen(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime, args: argparse.Namespace) -> None:
    service.reopen(ticket, at)


def _check_time(rt: Runtime, ticket: models.Ticket, at: datetime) -> None:
    try:
        service.check_event_time(ticket, at, rt.now())
    except ValueError as exc:
        raise UsageError(f"{ticket.number}: --at {exc}") from None


def respond(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime,
            args: argparse.Namespace) -> datetime | None:
    _check_time(rt, ticket, at)
    return service.respond(ticket, at, correct=args.correct)


def onsite(rt: Runtime, session: Session, ticket: models.Ticket, at: datetime,
           args: argparse.Namespace) -> datetime | None:
    _check_time(rt, ticket, at)
    return service.arrive_onsite(ticket, at, correct=args.correct)


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


RECORDED: dict[Action, str] = {respond: "response", onsite: "arrival on site"}  # recorded once
