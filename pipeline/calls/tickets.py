"""Calls and tickets: who is calling, which ticket the call joins, and what it adds to that ticket.

A caller is recognised by phone number (E.164, Chinese landline and mobile forms alike, through
pipeline.tickets.customers.normalise_phone). A call from a customer with an open ticket joins the newest
one; so does a repeat call from an unknown number that already has an open ticket; anyone else gets a
new ticket on the phone channel, at the hotline's default severity, with the same SLA deadlines as mail.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from pipeline import triage
from pipeline.calls import state
from pipeline.calls.context import Context
from pipeline.calls.rows import CallRow
from pipeline.store import models, queries
from pipeline.tickets import customers, service

SUBJECTS = {"zh-Hans": "热线来电：{caller}", "zh-Hant": "熱線來電：{caller}", "en": "Hotline call from {caller}"}
SOURCES = {"twilio": "Twilio", "pocketsphinx": "pocketsphinx", "faster-whisper": "faster-whisper"}


MESSAGE_INSERT = insert(models.Message.__table__)  # built once: the values come as parameters


@lru_cache(maxsize=4096)
def _e164(number: str) -> str | None:
    return customers.normalise_phone(number)


def caller_number(call: CallRow) -> str | None:
    """The caller's E.164 number, or None for a withheld or malformed caller ID."""
    return _e164(call.from_number) if call.from_number else None


def open_ticket_for(session: Session, customer: models.Customer | None, e164: str | None) -> models.Ticket | None:
    query = select(models.Ticket).where(models.Ticket.status.in_((service.OPEN, service.WAITING)))
    if customer is not None:
        query = query.where(models.Ticket.customer_id == customer.id)
    elif e164:
        query = query.where(models.Ticket.requester == e164)
    else:
        return None
    return session.scalar(query.order_by(models.Ticket.id.desc()).limit(1))


def _serialise_caller(session: Session, e164: str) -> None:
    """Two calls from one number at the same moment must not open two tickets (PostgreSQL: row locks do
    not cover rows that do not exist yet; SQLite's single writer already serialises)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"caller:{e164}"})


def ensure_ticket(session: Session, ctx: Context, call: CallRow, now: datetime) -> None:
    """Link the call to a ticket: an open one of the caller's, or a new one. Not before the caller's
    number is known (a status report may arrive before the voice request)."""
    if call.ticket_id is not None or call.from_number is None:
        return
    e164 = caller_number(call)
    if e164:
        _serialise_caller(session, e164)
    customer = queries.customer_by_phone(session, e164) if e164 else None
    call.customer_id = customer.id if customer else None
    ticket = open_ticket_for(session, customer, e164)
    if ticket is not None:
        if ticket.status == service.WAITING:  # the customer is back: the resolve clock runs again
            service.resume(ticket, now)
            service.apply_deadlines(ctx.tickets, ticket, customer)
        ticket.updated_at = now
    else:
        ticket = _open(session, ctx, call, customer, e164, now)
        call.opened_ticket = True
    call.ticket_id = ticket.id
    call.language = call.language or ticket.language
    add_message(session, call, "call", _call_text(call, e164), now)


def _open(session: Session, ctx: Context, call: CallRow, customer: models.Customer | None,
          e164: str | None, now: datetime) -> models.Ticket:
    language = call.language or state.language_for_number(e164, ctx.options.default_language)
    caller = call.caller_name or e164 or call.from_number or "?"
    level = ctx.options.default_severity
    ticket = models.Ticket(
        subject=SUBJECTS.get(language, SUBJECTS["en"]).format(caller=caller),
        status=service.OPEN,
        channel="phone",
        language=language,
        severity=level,
        severity_reason=f"level {level}: hotline default",
        customer_id=customer.id if customer else None,
        requester=e164 or call.from_number or "unknown",
        requester_name=call.caller_name,
        tier=customer.tier if customer else ctx.tickets.default_tier,
        timezone=customer.timezone if customer else ctx.tickets.default_timezone,
        received_at=call.started_at,
        paused_s=0,
        created_at=now,
        updated_at=now,
    )
    service.apply_deadlines(ctx.tickets, ticket, customer)
    session.add(ticket)
    session.flush()
    ticket.number = service.ticket_number(ctx.tickets.ticket_prefix, ticket.id)
    return ticket


def _call_text(call: CallRow, e164: str | None) -> str:
    where = f" ({call.caller_country})" if call.caller_country else ""
    return f"Hotline call {call.call_sid} from {e164 or call.from_number}{where} to {call.to_number or '-'}"


def add_message(session: Session, call: CallRow, kind: str, body: str, now: datetime,
                customer_text: str | None = None) -> None:
    """A line on the call's ticket: the call itself, its voicemail link, a transcript."""
    if call.ticket_id is None:
        return
    session.connection().execute(MESSAGE_INSERT, dict(
        ticket_id=call.ticket_id, direction="in", kind=kind, from_addr=caller_number(call) or call.from_number,
        from_name=call.caller_name, to_addrs=call.to_number, text=body, customer_text=customer_text,
        language=call.language, created_at=now,
    ))


def add_voicemail(session: Session, call: CallRow, now: datetime) -> None:
    duration = f" ({call.recording_duration_s} s)" if call.recording_duration_s is not None else ""
    add_message(session, call, "voicemail", f"Voicemail{duration}: {call.recording_url}", now)


def add_transcript(session: Session, ctx: Context, call: CallRow, transcript: str, source: str,
                   now: datetime) -> None:
    """The transcript joins the ticket and is graded by the same severity rules as mail. A voicemail
    can make its ticket more severe, never less: the hotline is the urgent line."""
    label = SOURCES.get(source, source)
    add_message(session, call, "voicemail", f"Voicemail transcript ({label}): {transcript}", now,
                customer_text=transcript)
    ticket = session.get(models.Ticket, call.ticket_id) if call.ticket_id else None
    if ticket is None or not transcript.strip():
        return
    level, reason = triage.grade_text(transcript, ctx.triage_rules)
    _, default_reason = triage.grade_text("", ctx.triage_rules)
    if reason != default_reason and int(level) < ticket.severity:
        ticket.severity, ticket.severity_reason = int(level), f"voicemail: {reason}"
        service.apply_deadlines(ctx.tickets, ticket, session.get(models.Customer, ticket.customer_id or -1))
        ticket.updated_at = now


def ticket_tier(session: Session, call: CallRow, ctx: Context) -> tuple[str, models.Customer | None]:
    customer = session.get(models.Customer, call.customer_id) if call.customer_id else None
    if customer is not None:
        return customer.tier, customer
    ticket = session.get(models.Ticket, call.ticket_id) if call.ticket_id else None
    return (ticket.tier if ticket else ctx.tickets.default_tier), None

