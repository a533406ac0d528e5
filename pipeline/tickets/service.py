"""The write side: one transaction turns a triaged message into a ticket (or an appended message) and the
jobs it owes, and marks its raw input processed.

Functions take the open Session plus plain values; the transaction belongs to the caller (ingest.py,
the CLI), so a ticket, its messages and its jobs commit together or not at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert
from sqlalchemy.orm import Session

from pipeline.records import Attachment, IngestResult, IngestStatus, ParsedMail, Triage
from pipeline.sla import deadlines as sla
from pipeline.sla import workdays
from pipeline.store import models, queries, writes
from pipeline.tickets import acks

OPEN, WAITING, RESOLVED = "open", "waiting", "resolved"
TICKET_COLUMNS = [c for c in models.Ticket.__mapper__.column_attrs if c.key not in ("id", "number")]


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


def ticket_number(prefix: str, ticket_id: int) -> str:
    return f"{prefix}-{ticket_id:06d}"


def apply_deadlines(ctx: Context, ticket: models.Ticket, customer: models.Customer | Row[Any] | None) -> None:
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


def _insert_message(
    session: Session, *, ticket_id: int | None, raw_id: int | None, mail: ParsedMail, triage: Triage,
    kind: str, received_at: datetime,
) -> int:
    message_id = writes.insert_message(session, dict(
        ticket_id=ticket_id,
        raw_id=raw_id,
        direction="in",
        kind=kind,
        message_id=mail.message_id,
        in_reply_to=" ".join(mail.in_reply_to) or None,
        references=" ".join(mail.references) or None,
        from_addr=mail.from_addr or None,
        from_name=mail.from_name or None,
        to_addrs=", ".join(mail.to) or None,
        subject=mail.subject,
        text=mail.text,
        customer_text=triage.text,
        language=triage.language,
        automatic=triage.automatic,
        decoding="; ".join(mail.decoding) or None,
        created_at=received_at,
    ))
    if mail.attachments:
        session.execute(insert(models.Attachment), [_attachment_row(message_id, a) for a in mail.attachments])
    return message_id


def _attachment_row(message_id: int, attachment: Attachment) -> dict[str, Any]:
    return dict(
        message_id=message_id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        content_id=attachment.content_id,
        inline=attachment.inline,
        size=len(attachment.content),
        sha256=hashlib.sha256(attachment.content).hexdigest(),
        content=attachment.content,
    )


def find_ticket(session: Session, mail: ParsedMail, triage: Triage) -> models.Ticket | None:
    """A reply joins its ticket by the number in the subject or by any Message-ID it answers or reports."""
    if triage.ticket_ref:
        ticket = queries.ticket_by_number(session, triage.ticket_ref)
        if ticket is not None:
            return ticket
    return queries.ticket_by_message_ids(session, [*triage.thread_ids, *triage.bounce_of])


def is_staff(ctx: Context, address: str) -> bool:
    return bool(address) and address.rpartition("@")[2] in ctx.staff_domains


def record_mail(
    session: Session, ctx: Context, *, raw_id: int | None, source: str, mail: ParsedMail, triage: Triage,
    received_at: datetime, now: datetime,
) -> IngestResult:
    """Write what one inbound mail means, inside the caller's transaction."""
    ticket = find_ticket(session, mail, triage)
    staff = is_staff(ctx, mail.from_addr)

    if triage.automatic or (staff and ticket is None):
        reason = triage.automatic or "staff mail outside any ticket"
        kind = "bounce" if reason.startswith("bounce") else "auto"
        _insert_message(session, ticket_id=ticket.id if ticket else None, raw_id=raw_id, mail=mail,
                        triage=triage, kind=kind, received_at=received_at)
        return _result(source, IngestStatus.SUPPRESSED, ticket, triage, reason, raw_id)

    if ticket is not None:
        _insert_message(session, ticket_id=ticket.id, raw_id=raw_id, mail=mail, triage=triage,
                        kind="staff" if staff else "mail", received_at=received_at)
        reason = None
        if staff:
            if ticket.first_response_at is None:
                ticket.first_response_at = received_at
        elif ticket.status == RESOLVED:
            ticket.status, ticket.resolved_at = OPEN, None
            reason = "reopened"
        elif ticket.status == WAITING:
            resume(ticket, received_at, ctx)
            apply_deadlines(ctx, ticket, session.get(models.Customer, ticket.customer_id or -1))
        if triage.escalation and ticket.escalated_at is None:
            # the customer asked when they wrote: the scheduler escalates to their manager at that instant
            ticket.escalated_at, ticket.escalation_reason = received_at, triage.escalation
        ticket.updated_at = now
        return _result(source, IngestStatus.APPENDED, ticket, triage, reason, raw_id)

    customer = writes.customer_for_address(session, mail.from_addr) if mail.from_addr else None
    ticket = models.Ticket(
        subject=mail.subject or "(no subject)",
        status=OPEN,
        channel="email",
        language=triage.language,
        severity=int(triage.severity),
        severity_reason=triage.severity_reason,
        customer_id=customer.id if customer else None,
        requester=mail.from_addr,
        requester_name=mail.from_name or None,
        tier=customer.tier if customer else ctx.default_tier,
        timezone=customer.timezone if customer else ctx.default_timezone,
        received_at=received_at,
        paused_s=0,
        escalated_at=received_at if triage.escalation else None,
        escalation_reason=triage.escalation,
        created_at=now,
        updated_at=now,
    )
    apply_deadlines(ctx, ticket, customer)
    # Core inserts: the ticket stays a transient object that the ack is rendered from.
    ticket.id = writes.insert_ticket(session, {c.key: getattr(ticket, c.key) for c in TICKET_COLUMNS})
    ticket.number = ticket_number(ctx.ticket_prefix, ticket.id)
    writes.set_ticket_number(session, ticket.id, ticket.number)
    _insert_message(session, ticket_id=ticket.id, raw_id=raw_id, mail=mail, triage=triage, kind="mail",
                    received_at=received_at)
    reason = ctx.ack_builder.schedule(
        session, ticket, mail, now=now, reply_to=mail.reply_to or mail.from_addr,
        rate_limit=ctx.ack_rate_limit_per_hour,
    )
    return _result(source, IngestStatus.CREATED, ticket, triage, reason, raw_id)


def _result(
    source: str, status: IngestStatus, ticket: models.Ticket | None, triage: Triage, reason: str | None,
    raw_id: int | None,
) -> IngestResult:
    return IngestResult(
        source=source,
        status=status,
        ticket=ticket.number if ticket else None,
        language=triage.language,
        severity=int(ticket.severity if ticket else triage.severity),
        reason=reason,
        raw_id=raw_id,
        ticket_id=ticket.id if ticket else None,
    )


def mark_processed(session: Session, raw_id: int, result: IngestResult, now: datetime) -> None:
    writes.mark_processed(session, raw_id, str(result.status), result.reason, result.ticket_id, now)


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
