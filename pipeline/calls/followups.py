"""Nobody's call is forgotten: the jobs a missed call owes, and the transcription a voicemail gets.

A missed call (busy, no-answer, failed, canceled, or voicemail) gets, once:
* `callback_due` on the call: the tier's callback limit on its clock (sla.deadlines.callback_due);
* a `callback_reminder` job per engineer to remind (SMS to a number, mail to an address), or a
  `callback_call` that phones the engineer and puts them through to the caller, due a little before
  that deadline;
* a `callback_notice` SMS to the caller in their language with the ticket number, when SMS is on and the
  caller's number can take one.
An answered call on the same ticket cancels what is still pending. Every job has a dedupe key, so a
retried webhook cannot schedule anything twice.

The scheduler (pipeline.jobs.scheduler) plans reminders from `callback_due` too, but adds none where
these jobs exist (a callback_reminder on the call's ticket, an SMS to the caller); their payload names
the call by `call_sid`, not by the scheduler's `call` id, so it treats them as ours.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pipeline.calls import state
from pipeline.calls import tickets as call_tickets
from pipeline.calls.context import Context
from pipeline.calls.rows import CallRow
from pipeline.sla import deadlines as sla
from pipeline.store import models
from pipeline.tickets import acks

CALLBACK_REMINDER, CALLBACK_NOTICE, TRANSCRIBE = "callback_reminder", "callback_notice", "transcribe"
CALLBACK_CALL = "callback_call"  # an outbound call to the engineer, put through to the caller
PENDING_ON_ANSWER = (CALLBACK_REMINDER, CALLBACK_NOTICE, CALLBACK_CALL)

# built once, on the table (not the ORM entity): every missed call runs them, the values come as parameters
JOBS = models.Job.__table__
_JOB_INSERTS = {dialect: insert(JOBS).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(JOBS.c.id)
                for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
_CANCEL = (update(JOBS)
           .where(JOBS.c.ticket_id == bindparam("ticket"), JOBS.c.kind.in_(PENDING_ON_ANSWER),
                  JOBS.c.status == "pending")
           .values(status="cancelled", last_error=bindparam("why")))


def add_job(session: Session, **values: Any) -> bool:
    """Insert a pending job unless its dedupe key exists; True when it was added."""
    statement = _JOB_INSERTS[session.get_bind().dialect.name]
    added = session.connection().execute(statement, {"status": "pending", "attempts": 0, **values}).first()
    return added is not None


def reminder_recipients(ctx: Context) -> list[str]:
    return list(ctx.options.callback_notify or ctx.options.on_call or ctx.options.after_hours_on_call or [])


def reminder_channel(entry: str) -> tuple[str, str, str]:
    """(kind, channel, recipient) of a callback_notify entry: "ops@example.cn" is mailed, "+86..." gets an
    SMS, "call:+86..." is phoned and put through to the caller (the callback itself)."""
    if "@" in entry:
        return CALLBACK_REMINDER, "email", entry
    if entry.startswith("call:"):
        return CALLBACK_CALL, "call", entry.removeprefix("call:")
    return CALLBACK_REMINDER, "sms", entry


def schedule(session: Session, ctx: Context, call: CallRow, now: datetime) -> None:
    """The callback deadline and the jobs a missed call owes (idempotent: only the first time)."""
    if call.callback_due is not None:
        return
    call_tickets.ensure_ticket(session, ctx, call, now)
    ticket = session.get(models.Ticket, call.ticket_id) if call.ticket_id else None
    tier, customer = call_tickets.ticket_tier(session, call, ctx)
    policy = ctx.callback_policy
    if customer is not None and customer.policy_overrides:
        policy = policy.with_overrides(customer.policy_overrides)
    due = sla.callback_due(now, tier, policy, ctx.calendar)
    call.callback_due = due
    zone = ticket.timezone if ticket else ctx.tickets.default_timezone
    caller = call_tickets.caller_number(call)
    context = {
        "call": call,
        "caller": caller or call.from_number or "?",
        "customer": customer.name if customer else None,
        "ticket": ticket,
        "missed": call.missed,
        "callback_due": acks.format_local(due, zone),
        "tier": tier,
    }
    payload = {"call_sid": call.call_sid, "caller": caller, "callback_due": due.isoformat()}
    remind_at = max(now, due - timedelta(seconds=ctx.options.callback_remind_before_s))
    for entry in reminder_recipients(ctx):
        kind, channel, recipient = reminder_channel(entry)
        rendered = ctx.templates.render("callback", ctx.remind_language, context)
        add_job(session, kind=kind, channel=channel, ticket_id=call.ticket_id, customer_id=call.customer_id,
                recipient=recipient, subject=rendered.subject, language=rendered.language,
                body_text=rendered.text if channel == "email" else rendered.text.strip(), payload=payload,
                due_at=remind_at, dedupe_key=f"callback:{call.call_sid}:{entry}"[:300], created_at=now)
    if ctx.options.sms_enabled and ctx.sms_from and state.can_take_sms(caller):
        rendered = ctx.templates.render("sms", call.language, context)
        add_job(session, kind=CALLBACK_NOTICE, channel="sms", ticket_id=call.ticket_id,
                customer_id=call.customer_id, recipient=caller, subject=rendered.subject,
                language=rendered.language, body_text=rendered.text.strip(), payload=payload,
                due_at=now + timedelta(seconds=ctx.options.sms_delay_s), dedupe_key=f"sms:{call.call_sid}",
                created_at=now)


def cancel_pending(session: Session, call: CallRow, now: datetime) -> None:
    """Somebody answered this caller: reminders and notices still waiting for earlier misses are moot."""
    if call.ticket_id is None:
        return
    session.connection().execute(_CANCEL, {"ticket": call.ticket_id,
                                           "why": f"answered: call {call.call_sid} at {now.isoformat()}"})


def schedule_transcription(session: Session, ctx: Context, call: CallRow, now: datetime) -> None:
    """A completed recording is transcribed in the background when a speech-to-text backend is set."""
    if ctx.options.stt_backend == "none" or not call.recording_sid or not call.recording_url:
        return
    add_job(session, kind=TRANSCRIBE, channel="internal", ticket_id=call.ticket_id, customer_id=call.customer_id,
            recipient=None, language=call.language,
            payload={"call_sid": call.call_sid, "recording_sid": call.recording_sid,
                     "recording_url": call.recording_url, "backend": ctx.options.stt_backend},
            due_at=now, dedupe_key=f"stt:{call.recording_sid}", created_at=now)
