"""The ticket's rules: its number, its SLA clocks, how a reply finds it, and the changes staff make.

Functions take the open Session (or the ticket) plus plain values; the transaction belongs to the caller
(recorder.py for mail, the hotline, the CLI), so a ticket, its messages and its jobs commit together or
not at all.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from pipeline.records import ParsedMail, Triage
from pipeline.runtime import Runtime
from pipeline.sla import deadlines as sla
from pipeline.sla import workdays
from pipeline.store import models, queries
from pipeline.tickets import acks

OPEN, WAITING, RESOLVED = "open", "waiting", "resolved"


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
        ack_builder=acks.AckBuilder(rt.templates, rt.service_policy, settings.service_address),
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


def respond(ticket: models.Ticket, at: datetime) -> None:
    if ticket.first_response_at is None:
        ticket.first_response_at = at
    ticket.updated_at = at


def arrive_onsite(ticket: models.Ticket, at: datetime) -> None:
    """The engineer arrived on site: the on-site clock stops (the first arrival counts, as the first
    response does)."""
    if ticket.onsite_at is None:
        ticket.onsite_at = at
    ticket.updated_at = at


# A customer's terms changed (`intake customers import`) ----------------------------------------------

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
