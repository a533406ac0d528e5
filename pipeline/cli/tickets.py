"""`intake tickets list|show|resolve|reopen|severity|respond|onsite|wait|resume|part-needed|note|assign`.

Every change runs in one transaction with the ticket's replanning (pipeline.jobs.scheduler.plan_ticket),
so `intake reminders list` agrees with the ticket at once: a response cancels the response clock's
warning and escalation, an arrival on site those of the on-site clock, a new severity moves them, a
resolution plans the follow-up visit. `--at`
says when the change happened (default now); planning happens as of that instant.

A response or an arrival on site is recorded once: a second one changes nothing and says when the first
was recorded (`already_recorded` in --json); `--correct` replaces a wrongly recorded time. Their `--at`
may not lie before the ticket arrived or in the future (beyond a minute of clock skew).

A note is staff's own line in the ticket's history: never sent, so no response and no change to the ticket.
An assignment names the engineer who has the ticket and moves no clock. `list` narrows by plain columns in
SQL, `--overdue` included: the deadlines are stored, so no calendar is needed to see that one has passed.
"""

from __future__ import annotations

import argparse
import getpass
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

COLUMNS = ("number", "status", "severity", "language", "customer", "received_at", "response_due", "subject",
           "assignee")
NAME_MAX = 200  # what tickets.assignee and messages.from_name hold


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("tickets", help="list, show and change tickets")
    verbs = common.add_subcommands(parser)
    listing = output.add_json_option(verbs.add_parser("list", help="list tickets, newest first"))
    listing.add_argument("--status", choices=("open", "waiting", "resolved"))
    add_filter_options(listing)
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
    note = output.add_json_option(verbs.add_parser("note", help="add an internal note (never sent to the customer)"))
    note.add_argument("number")
    note.add_argument("text")
    note.add_argument("--by", metavar="NAME", help="who writes it (default: your login name)")
    note.set_defaults(func=add_note)
    assignment = output.add_json_option(verbs.add_parser("assign", help="give the ticket to an engineer (- for "
                                                                         "nobody); no clock moves"))
    assignment.add_argument("number")
    assignment.add_argument("engineer")
    assignment.set_defaults(func=assign)


def add_filter_options(listing: argparse.ArgumentParser) -> None:
    """`tickets list` criteria besides --status; all given must hold."""
    listing.add_argument("--severity", action="append", type=levels, metavar="N",
                         help="severity 1-4; repeat it or give a comma list (1,2) for several")
    listing.add_argument("--customer", metavar="NAME", help="the customer's exact name; - for tickets of none")
    listing.add_argument("--overdue", action="store_true",
                         help="only open and waiting tickets with an SLA clock (response, on site, resolve) past due")
    listing.add_argument("--channel", choices=("email", "phone"))
    listing.add_argument("--assignee", metavar="NAME", help="the engineer's name; - for unassigned tickets")
    listing.add_argument("--limit", type=positive, default=1000, metavar="N", help="at most N tickets (1000)")


def levels(value: str) -> list[int]:
    """`--severity 1,2`: each a level of Severity."""
    try:
        found = [Severity(int(part)) for part in value.split(",") if part.strip()]
    except ValueError:
        found = []
    if not found:
        raise argparse.ArgumentTypeError(f"expected levels 1-4, e.g. 1 or 1,2; got {value!r}")
    return [int(level) for level in found]


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def _name_or_nobody(value: str | None) -> str | queries.Nobody | None:
    return queries.NOBODY if value == queries.NOBODY.value else value


def ticket_filter(args: argparse.Namespace, now: datetime) -> queries.TicketFilter:
    return queries.TicketFilter(
        severities=tuple(level for given in args.severity or () for level in given),
        customer=_name_or_nobody(args.customer),
        channel=args.channel,
        assignee=_name_or_nobody(args.assignee),
        overdue_at=now if args.overdue else None,
    )


def list_tickets(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        now = rt.now()
        wanted = ticket_filter(args, now)
        found = queries.tickets(session, status=args.status, limit=args.limit, wanted=wanted)
        customers = {c.id: c for c in queries.customers(session)}
        rows = [views.ticket_row(t, customers.get(t.customer_id or -1), now) for t in found]
    if isinstance(wanted.customer, str) and wanted.customer not in {c.name for c in customers.values()}:
        print(f"intake: no customer is named {wanted.customer!r}: see `intake customers list`", file=sys.stderr)
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


# Notes and assignments: no clock moves, so nothing is replanned in the command ----------------------------

def add_note(args: argparse.Namespace) -> int:
    text = args.text.strip()
    if not text:
        raise UsageError("a note needs some text")
    by = _name(args.by, "--by") if args.by is not None else _login_name()
    with common.runtime() as rt, db.transaction(rt.sessions) as session:
        ticket = _ticket(session, args.number)
        note = service.add_note(session, ticket, text, by, rt.now())
        row = {"ticket": ticket.number, **views.message_row(note, ticket.timezone, [])}
    output.emit_one(row, args.json)
    return 0


def _login_name() -> str | None:
    """Who runs the command, for a note without --by (None when the system cannot say)."""
    try:
        return getpass.getuser()[:NAME_MAX]
    except (OSError, KeyError):
        return None


def assign(args: argparse.Namespace) -> int:
    engineer = None if args.engineer.strip() == queries.NOBODY.value else _name(args.engineer, "ENGINEER")
    with common.runtime() as rt:
        now = rt.now()
        with db.transaction(rt.sessions) as session:
            service.assign(_ticket(session, args.number), engineer, now)
        with rt.sessions() as session:
            row = views.ticket_detail(session, _ticket(session, args.number), now)
    row.pop("messages")
    output.emit_one(row, args.json)
    if not args.json:
        print_sla(row)
    return 0


def _name(value: str, what: str) -> str:
    """A person's name as given (an engineer, a note's author), within what the store keeps."""
    name = value.strip()
    if not name or len(name) > NAME_MAX:
        raise UsageError(f"{what}: expected a name of 1-{NAME_MAX} characters, got {value!r}")
    return name
