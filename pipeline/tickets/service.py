"""The ticket's rules: its number, its SLA clocks, how a reply finds it, and the changes staff make.

Functions take the open Session (or the ticket) plus plain values; the transaction belongs to the caller
(recorder.py for mail, the hotline, the CLI), so a ticket, its messages and its jobs commit together or
not at all.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from pipeline.records import ParsedMail, Triage
from pipeline.runtime import Runtime
from pipeline.sla import deadlines as sla
from pipeline.sla import workdays
from pipeline.store import models, queries, writes
from pipeline.tickets import acks

OPEN, WAITING, RESOLVED = "open", "waiting", "resolved"
CLOCK_SKEW = timedelta(minutes=1)  # how far a time staff give may lie ahead of our clock (theirs runs fast)


@dataclass(frozen=True)
class Context:
    """The plain values the write side needs; built once per process from the Runtime."""

    service: sla.ServicePolicy
    calendar: workdays.WorkCalendar
    ack_builder: acks.AckBuilder
    default_tier: str
    default_timezone: str
    ticket_prefix: str
    staff_domains: frozenset[str]
    ack_rate_limit_per_hour: int


@functools.cache
def context(rt: Runtime) -> Context:
    """The write side's values for this process, built once from its Runtime."""
    settings = rt.settings
    return Context(
        service=rt.service_policy,
        calendar=rt.calendar,
        ack_builder=acks.AckBuilder.of(rt),
        default_tier=settings.default_tier,
        default_timezone=settings.timezone,
        ticket_prefix=settings.ticket_prefix,
        staff_domains=frozenset(settings.staff_domains),
        ack_rate_limit_per_hour=settings.ack_rate_limit_per_hour,
    )


def ticket_number(prefix: str, ticket_id: int) -> str:
    return f"{prefix}-{ticket_id:06d}"


def apply_deadlines(ctx: Context, ticket: models.Ticketish, customer: models.Customer | Row[Any] | None) -> None:
    """(Re)compute the SLA clocks from arrival, severity, tier and time spent waiting for the customer."""
    due = sla.compute_deadlines(
        ticket.received_at,
        ticket.severity,
        ticket.tier,
        ctx.service,
        ctx.calendar,
        paused=timedelta(seconds=ticket.paused_s or 0),
        customer_overrides=(customer.policy_overrides if customer else None),
    )
    ticket.response_due, ticket.onsite_due, ticket.resolve_due = due.response_due, due.onsite_due, due.resolve_due


def find_ticket(session: Session, mail: ParsedMail, triage: Triage) -> models.Ticket | None:
    """A reply joins its ticket by the number in the subject or by any Message-ID it answers or reports."""
    if triage.ticket_ref:
        ticket = queries.ticket_by_number(session, triage.ticket_ref)
        if ticket is not None:
            return ticket
    return queries.ticket_by_message_ids(session, [*triage.thread_ids, *triage.bounce_of])


def is_staff(ctx: Context, address: str) -> bool:
    return bool(address) and address.rpartition("@")[2] in ctx.staff_domains


# Ticket changes asked for by staff (CLI) -------------------------------------------------------------

def resolve(ticket: models.Ticket, at: datetime) -> None:
    if ticket.status == WAITING:
        resume(ticket, at)
    ticket.status, ticket.resolved_at, ticket.updated_at = RESOLVED, at, at


def reopen(ticket: models.Ticket, at: datetime) -> None:
    ticket.status, ticket.resolved_at, ticket.updated_at = OPEN, None, at


def wait_for_customer(ticket: models.Ticket, at: datetime) -> None:
    """The resolve clock pauses while we wait for the customer."""
    if ticket.status == OPEN:
        ticket.status, ticket.waiting_since, ticket.updated_at = WAITING, at, at


def resume(ticket: models.Ticket, at: datetime, ctx: Context | None = None) -> None:
    """Back from waiting. The pause counts on the tier's clock (a weekend adds no business hours to an
    8x5 ticket), so give ctx; without it, wall-clock time is counted."""
    if ticket.waiting_since is not None:
        span = [(ticket.waiting_since, max(at, ticket.waiting_since))]
        paused = (span[0][1] - span[0][0]) if ctx is None else sla.paused_time(
            span, ctx.service.tier(ticket.tier).clock, ctx.service.hours, ctx.calendar)
        ticket.paused_s = (ticket.paused_s or 0) + int(paused.total_seconds())
    ticket.status, ticket.waiting_since, ticket.updated_at = OPEN, None, at


def check_event_time(ticket: models.Ticket, at: datetime, now: datetime) -> None:
    """A response or an arrival on site cannot come before the ticket arrived, nor later than now (give or
    take CLOCK_SKEW): ValueError says which, with the times in the ticket's zone."""
    zone = ZoneInfo(ticket.timezone)
    if at < ticket.received_at:
        raise ValueError(f"{at.astimezone(zone).isoformat()} is before the ticket arrived "
                         f"({ticket.received_at.astimezone(zone).isoformat()})")
    if at > now + CLOCK_SKEW:
        raise ValueError(f"{at.astimezone(zone).isoformat()} is in the future "
                         f"(now {now.astimezone(zone).isoformat(timespec='seconds')})")


def respond(ticket: models.Ticket, at: datetime, *, correct: bool = False) -> datetime | None:
    """The first response stops the response clock; a later one changes nothing. Returns the time already
    recorded when it is kept, None when `at` was recorded. `correct` replaces a wrongly recorded time."""
    if ticket.first_response_at is not None and not correct:
        return ticket.first_response_at
    ticket.first_response_at, ticket.updated_at = at, at
    return None


def arrive_onsite(ticket: models.Ticket, at: datetime, *, correct: bool = False) -> datetime | None:
    """The engineer arrived on site: the on-site clock stops. The first arrival counts, as the first
    response does: returns the arrival already recorded when it is kept, None when `at` was recorded.
    `correct` replaces a wrongly recorded time."""
    if ticket.onsite_at is not None and not correct:
        return ticket.onsite_at
    ticket.onsite_at, ticket.updated_at = at, at
    return None


def assign(ticket: models.Ticket, engineer: str | None, at: datetime) -> bool:
    """Give the ticket to an engineer (None: to nobody). No clock moves. Returns whether anything changed."""
    if ticket.assignee == engineer:
        return False
    ticket.assignee, ticket.updated_at = engineer, at
    return True


NOTE_DIRECTION, NOTE_KIND = "internal", "note"


def add_note(session: Session, ticket: models.Ticket, text: str, by: str | None, at: datetime) -> models.Message:
    """An internal note in the ticket's history, among its mail and calls. It is never sent, so it is no
    response to the customer: no clock and no job follow from it, and the ticket itself is unchanged."""
    note = models.Message(ticket_id=ticket.id, direction=NOTE_DIRECTION, kind=NOTE_KIND, from_addr=by, from_name=by,
                          text=text, created_at=at)
    session.add(note)
    session.flush()
    return note


# A customer's terms changed, or a customer became known (`intake customers import`) --------------------

def follow_customer(session: Session, ctx: Context, customer: models.Customer, at: datetime) -> list[models.Ticket]:
    """The customer's open and waiting tickets take its new tier and get new deadlines from it and its
    policy overrides, as a new severity gives them. Resolved tickets keep the deadlines they were judged
    by. Returns the tickets changed; the caller replans them in its transaction."""
    tickets = list(session.scalars(select(models.Ticket).where(
        models.Ticket.customer_id == customer.id, models.Ticket.status.in_((OPEN, WAITING)))
        .order_by(models.Ticket.id)))
    for ticket in tickets:
        ticket.tier = customer.tier
        apply_deadlines(ctx, ticket, customer)
        ticket.updated_at = at
    return tickets


def link_customers(session: Session, ctx: Context, customers: Sequence[models.Customer],
                   at: datetime) -> list[models.Ticket]:
    """Open and waiting tickets of no customer whose requester now belongs to one of `customers` become
    theirs, found as ingest and the hotline find a customer: a mail's sender by address, else by domain;
    a phone ticket's caller by number. They take the customer's tier and time zone and get new deadlines
    from them, and their calls name the customer. Resolved tickets keep the terms they were judged by.
    Returns the tickets linked; the caller replans them in its transaction."""
    owners = _owners(session, customers, _unlinked_requesters(session))
    tickets = list(session.scalars(select(models.Ticket).where(models.Ticket.id.in_(sorted(owners)))
                                   .order_by(models.Ticket.id))) if owners else []
    by_id = {customer.id: customer for customer in customers}
    for ticket in tickets:
        customer = by_id[owners[ticket.id]]
        ticket.customer_id, ticket.tier, ticket.timezone = customer.id, customer.tier, customer.timezone
        apply_deadlines(ctx, ticket, customer)
        ticket.updated_at = at
        for call in session.scalars(select(models.Call).where(
                models.Call.ticket_id == ticket.id, models.Call.customer_id.is_(None))):
            call.customer_id, call.updated_at = customer.id, at
    return tickets


def _unlinked_requesters(session: Session) -> list[Row[Any]]:
    """(id, channel, requester) of the open and waiting tickets of no customer: few columns, so a large
    backlog costs little to look through."""
    return list(session.execute(
        select(models.Ticket.id, models.Ticket.channel, models.Ticket.requester)
        .where(models.Ticket.customer_id.is_(None), models.Ticket.status.in_((OPEN, WAITING)))).all())


def _owners(session: Session, customers: Sequence[models.Customer], tickets: Sequence[Row[Any]]) -> dict[int, int]:
    """Ticket id -> the id of the one of `customers` its requester belongs to."""
    ids = {customer.id for customer in customers}
    if not ids or not tickets:
        return {}
    contacts = session.execute(select(models.Contact.kind, models.Contact.value, models.Contact.customer_id)
                               .where(models.Contact.customer_id.in_(sorted(ids)))).all()
    phones = {value: owner for kind, value, owner in contacts if kind == "phone"}
    emails = {value for kind, value, _ in contacts if kind == "email"}
    domains = {value for kind, value, _ in contacts if kind == "domain"}
    owners = {t.id: phones[t.requester] for t in tickets if t.channel == "phone" and t.requester in phones}
    mail = [t for t in tickets if t.channel != "phone" and (
        t.requester.lower() in emails or t.requester.lower().rpartition("@")[2] in domains)]
    # another customer's own address outranks an imported customer's domain, as at ingest
    found = writes.customers_for_addresses(session, {t.requester for t in mail})
    for ticket in mail:
        row = found.get(ticket.requester.lower())
        if row is not None and row.id in ids:
            owners[ticket.id] = row.id
    return owners
