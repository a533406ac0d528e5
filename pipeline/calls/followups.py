"""Nobody's call is forgotten: the jobs a missed call owes, and the transcription a voicemail gets.

A missed call (busy, no-answer, failed, canceled, or voicemail) gets, once, as soon as it is known missed:
* `callback_due` on the call: the tier's callback limit on its clock (sla.deadlines.callback_due), but
  never later than its ticket's response deadline while that response is still owed;
* a `callback_reminder` job per engineer to remind (SMS to a number, mail to an address), or a
  `callback_call` that phones the engineer and puts them through to the caller, due a little before
  that deadline. It does not wait for the call to end: if Twilio never reports the end, the engineer is
  still reminded in time.
Once the call is over (Twilio's final status report, or the end of the voicemail), and only then, it gets:
* a `callback_notice` SMS to the caller's own number, in their language, `sms_delay_s` later, when SMS is
  on and that number can take one. The notice goes to the number that called and to nobody else: the
  ticket the call joined may be someone else's (a colleague's mail), and nothing in the store tells
  which e-mail address belongs to the person who called, so no notice goes out by mail.
The same caller answered since (another call from the same number on the same ticket, that a person
took) cancels what is still pending for that number's calls on the ticket, and a call missed or ended
after such an answer owes nothing more: a colleague's answered call answered someone else and changes
nothing for this caller (pipeline.store.queries.answered_since). A caller who retries gets one notice
and one round of reminders per callback window (pipeline.calls.windows), though each call gets its own
`callback_due`. Every job has a dedupe key, so a retried webhook cannot schedule anything twice.

The scheduler (pipeline.jobs.scheduler) plans reminders from `callback_due` too, by the same rules, and
adds none where these jobs exist; their payload names the call by `call_sid`, not by the scheduler's
`call` id, so it treats them as ours.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from pipeline.calls import state, windows
from pipeline.calls import tickets as call_tickets
from pipeline.calls.context import Context
from pipeline.calls.rows import CallRow
from pipeline.sla import deadlines as sla
from pipeline.store import models, queries, writes
from pipeline.tickets import acks

CALLBACK_REMINDER, CALLBACK_NOTICE, TRANSCRIBE = "callback_reminder", "callback_notice", "transcribe"
CALLBACK_CALL = "callback_call"  # an outbound call to the engineer, put through to the caller

# built once, on the table (not the ORM entity): every missed call runs them, the values come as parameters
JOBS = models.Job.__table__
CALLS = models.Call.__table__
# a ticket's follow-up jobs in some states, and one number's calls on it: the calls the jobs are for
_FOLLOW_UPS = select(JOBS.c.id, JOBS.c.kind, JOBS.c.payload).where(
    JOBS.c.ticket_id == bindparam("ticket"), JOBS.c.kind.in_(sorted(windows.DOES)),
    JOBS.c.status.in_(bindparam("statuses", expanding=True)))
_CALLERS_CALLS = select(CALLS.c.id, CALLS.c.call_sid, CALLS.c.ticket_id, CALLS.c.from_number, CALLS.c.started_at,
                        CALLS.c.callback_due).where(CALLS.c.ticket_id == bindparam("ticket"),
                                                    CALLS.c.from_number == bindparam("caller"))
_CANCEL = (update(JOBS)
           .where(JOBS.c.id.in_(bindparam("ids", expanding=True)), JOBS.c.status == "pending")
           .values(status="cancelled", last_error=bindparam("why")))


def add_job(session: Session, **values: Any) -> bool:
    """Insert a pending job unless its dedupe key exists; True when it was added."""
    return writes.insert_new(session, JOBS, [{"status": "pending", "attempts": 0, **values}]) == 1


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


def callback_deadline(limit_due: datetime, ticket: models.Ticket | None, now: datetime) -> datetime:
    """The callback limit's deadline, or the ticket's response deadline when that comes first and the
    response is still owed: calling back is how a phone ticket gets its first response, so the callback
    must not promise a time after the one the ticket's SLA already promised."""
    if ticket is None or ticket.first_response_at is not None or ticket.response_due is None:
        return limit_due
    if ticket.response_due <= now:  # already late (or "at once"): the response escalation says so
        return limit_due
    return min(limit_due, ticket.response_due)


def schedule(session: Session, ctx: Context, call: CallRow, now: datetime) -> None:
    """The callback deadline and the engineers' reminders a missed call owes (idempotent: only the first
    time). They do not wait for the call to end."""
    if call.callback_due is not None:
        return
    ticket = _ticket(session, call)
    tier, customer = call_tickets.ticket_tier(session, call, ctx)
    policy = ctx.callback_policy
    if customer is not None and customer.policy_overrides:
        policy = policy.with_overrides(customer.policy_overrides)
    due = callback_deadline(sla.callback_due(now, tier, policy, ctx.calendar), ticket, now)
    call.callback_due = due
    answered, covered = _standing(session, call)
    if answered or windows.REMINDER in covered:  # answered since, or reminded of already (the docstring)
        return
    context = _letter_context(ctx, call, ticket, customer, tier)
    remind_at = max(now, due - timedelta(seconds=ctx.options.callback_remind_before_s))
    for entry in reminder_recipients(ctx):
        kind, channel, recipient = reminder_channel(entry)
        rendered = ctx.templates.render("callback", ctx.remind_language, context)
        add_job(session, kind=kind, channel=channel, ticket_id=call.ticket_id, customer_id=call.customer_id,
                recipient=recipient, subject=rendered.subject, language=rendered.language,
                body_text=rendered.text if channel == "email" else rendered.text.strip(), payload=_payload(call),
                due_at=remind_at, dedupe_key=f"callback:{call.call_sid}:{entry}"[:300], created_at=now)


def schedule_notice(session: Session, ctx: Context, call: CallRow, now: datetime) -> None:
    """Once a missed call is over, tell the caller by SMS, on the number that called, when we will call
    back (idempotent: the dedupe key). Nothing while they may still be on the line, nothing once they
    have been answered since, nothing when an earlier call's notice stands for this one, and nothing by
    mail (see the module's docstring)."""
    caller = call_tickets.caller_number(call)
    if call.callback_due is None or not (ctx.options.sms_enabled and ctx.sms_from and state.can_take_sms(caller)):
        return
    ticket = _ticket(session, call)
    if _ticket_answered(call, ticket):
        return
    answered, covered = _standing(session, call)
    if answered or windows.NOTICE in covered:
        return
    tier, customer = call_tickets.ticket_tier(session, call, ctx)
    rendered = ctx.templates.render("sms", call.language, _letter_context(ctx, call, ticket, customer, tier))
    add_job(session, kind=CALLBACK_NOTICE, channel="sms", ticket_id=call.ticket_id,
            customer_id=call.customer_id, recipient=caller, subject=rendered.subject,
            language=rendered.language, body_text=rendered.text.strip(), payload=_payload(call),
            due_at=now + timedelta(seconds=ctx.options.sms_delay_s), dedupe_key=f"sms:{call.call_sid}",
            created_at=now)


def _ticket(session: Session, call: CallRow) -> models.Ticket | None:
    return session.get(models.Ticket, call.ticket_id) if call.ticket_id else None


def _ticket_answered(call: CallRow, ticket: models.Ticket | None) -> bool:
    """Whether the ticket has had its first response since this call began, or is resolved (the planner's
    rule too: pipeline.jobs.owed.callback_jobs)."""
    if ticket is None:
        return False
    return ticket.resolved_at is not None or (
        ticket.first_response_at is not None and ticket.first_response_at >= call.started_at)


def _standing(session: Session, call: CallRow) -> tuple[bool, set[str]]:
    """Whether the caller has been answered since `call` began, and what the live jobs of their earlier
    calls on the ticket already do for it (pipeline.calls.windows)."""
    if call.ticket_id is None or call.from_number is None:
        return False, set()
    connection = session.connection()
    others = [row for row in connection.execute(
        _CALLERS_CALLS, {"ticket": call.ticket_id, "caller": call.from_number}) if row.id != call.id]
    answered = queries.answered_since(session, [call, *others], state.ANSWERED)
    this = windows.Window(call.id, call.started_at, call.callback_due, call.id in answered)
    earlier = [windows.Window(row.id, row.started_at, row.callback_due, row.id in answered) for row in others]
    if this.answered_since or not any(windows.covers(window, this) for window in earlier):
        return this.answered_since, set()
    ids_by_sid = {row.call_sid: row.id for row in others}
    live: defaultdict[int, set[str]] = defaultdict(set)
    for job in connection.execute(_FOLLOW_UPS, {"ticket": call.ticket_id, "statuses": sorted(windows.LIVE)}):
        owner = windows.job_call(job.payload, ids_by_sid)
        if owner is not None:
            live[owner].add(windows.DOES[job.kind])
    return False, windows.covered(this, earlier, live)


def _letter_context(ctx: Context, call: CallRow, ticket: models.Ticket | None, customer: models.Customer | None,
                    tier: str) -> dict[str, Any]:
    assert call.callback_due is not None  # set by schedule
    zone = ticket.timezone if ticket else ctx.tickets.default_timezone
    return {
        "call": call,
        "caller": call_tickets.caller_number(call) or call.from_number or "?",
        "customer": customer.name if customer else None,
        "ticket": ticket,
        "missed": call.missed,
        "callback_due": acks.format_local(call.callback_due, zone),
        "tier": tier,
    }


def _payload(call: CallRow) -> dict[str, Any]:
    assert call.callback_due is not None
    return {"call_sid": call.call_sid, "caller": call_tickets.caller_number(call),
            "callback_due": call.callback_due.isoformat()}


def cancel_pending(session: Session, call: CallRow, now: datetime) -> None:
    """Somebody answered this caller: reminders and notices still waiting for their earlier misses (this
    number's calls on the ticket, this one's too) are moot. A colleague's on the same ticket still wait."""
    if call.ticket_id is None:
        return
    connection = session.connection()
    pending = list(connection.execute(_FOLLOW_UPS, {"ticket": call.ticket_id, "statuses": ["pending"]}))
    if not pending:
        return
    ids_by_sid = {call.call_sid: call.id}
    if call.from_number is not None:
        ids_by_sid.update((row.call_sid, row.id) for row in connection.execute(
            _CALLERS_CALLS, {"ticket": call.ticket_id, "caller": call.from_number}))
    theirs = set(ids_by_sid.values())
    moot = [job.id for job in pending if windows.job_call(job.payload, ids_by_sid) in theirs]
    if moot:
        connection.execute(_CANCEL, {"ids": moot, "why": f"answered: call {call.call_sid} at {now.isoformat()}"})


def schedule_transcription(session: Session, ctx: Context, call: CallRow, now: datetime) -> None:
    """A completed recording is transcribed in the background when a speech-to-text backend is set."""
    if ctx.options.stt_backend == "none" or not call.recording_sid or not call.recording_url:
        return
    add_job(session, kind=TRANSCRIBE, channel="internal", ticket_id=call.ticket_id, customer_id=call.customer_id,
            recipient=None, language=call.language,
            payload={"call_sid": call.call_sid, "recording_sid": call.recording_sid,
                     "recording_url": call.recording_url, "backend": ctx.options.stt_backend},
            due_at=now, dedupe_key=f"stt:{call.recording_sid}", created_at=now)
