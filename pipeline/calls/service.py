"""What one Twilio webhook request does: store it, update the call, its ticket and its jobs.

`record` inserts the request as a CallEvent under its dedupe key first; a retry finds the key taken and
changes nothing (it only reads the call, so a retried voice request gets the same TwiML). It runs inside
the caller's transaction, which commits before Twilio is answered, so an answered request is never lost.
What it returns says how to answer (the TwiML plan) and, for the request that ended a call, the call as it
ended, for the edge to log once the transaction has committed.

What a missed call owes (pipeline.calls.followups) is scheduled inside a SAVEPOINT of that transaction: should
it fail (a template that does not render, say), those jobs are lost and logged with the call's sid, but the
request's own changes (the call's end, its status) are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pipeline.calls import followups, rows, state
from pipeline.calls import tickets as call_tickets
from pipeline.calls.context import Context
from pipeline.calls.rows import CallRow
from pipeline.sla import clock
from pipeline.store import models
from pipeline.tickets import customers

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Recorded:
    """What the edge needs to answer: the call as it stands after this request."""

    fresh: bool  # False: a retry of a request already stored
    call_sid: str
    language: str
    route: str  # dial | voicemail
    numbers: tuple[str, ...]  # whom to dial
    answered: bool
    transcribe: bool  # ask Twilio to transcribe the voicemail


def store_event(session: Session, event: state.Event, now: datetime, error: str | None = None) -> bool:
    """Store the request under its dedupe key; False when it was stored before (a retry)."""
    return rows.insert_event(session, dict(
        call_sid=event.call_sid, kind=event.kind, dedupe_key=event.dedupe_key, sequence=event.sequence,
        payload=dict(event.params), error=error, received_at=now))


@dataclass(frozen=True)
class Ended:
    """A call as it stood when Twilio reported its end: one line of the call log."""

    call_sid: str
    from_number: str | None
    status: str
    ticket: str | None  # its number
    missed: str | None  # why nobody answered; None: answered
    callback_due: datetime | None


@dataclass(frozen=True)
class Applied:
    """What one request did: the TwiML plan (for the requests answered with TwiML) and the call, when this
    request ended it."""

    plan: Recorded | None
    ended: Ended | None


ANSWERED_WITH_TWIML = frozenset({"voice", "gather", "dial", "record"})


def record(session: Session, ctx: Context, event: state.Event, now: datetime) -> Applied:
    """Store and apply one request; for the requests answered with TwiML, what to answer."""
    fresh = store_event(session, event, now)
    call, original = rows.load(session, event.call_sid, now)
    ended = None
    if fresh:
        APPLY[event.kind](session, ctx, call, event, now)
        settle(session, ctx, call, now, over=call.ended_at is not None or state.ends_voicemail(event))
        if original["ended_at"] is None and call.ended_at is not None:
            ended = _ended(session, call)
        rows.save(session, call, original)
    recorded = plan(session, ctx, call, fresh, now, event.kind) if event.kind in ANSWERED_WITH_TWIML else None
    return Applied(recorded, ended)


def _ended(session: Session, call: CallRow) -> Ended:
    ticket = session.get(models.Ticket, call.ticket_id) if call.ticket_id else None
    return Ended(call.call_sid, call.from_number, call.status, ticket.number if ticket else None, call.missed,
                 call.callback_due)


def plan(session: Session, ctx: Context, call: CallRow, fresh: bool, now: datetime, kind: str) -> Recorded:
    language = call.language or ctx.options.default_language
    numbers: tuple[str, ...] = ()
    if call.route == "dial" and kind in ("voice", "gather"):  # only those answers dial
        tier, _ = call_tickets.ticket_tier(session, call, ctx)
        business = clock.is_business_time(now, ctx.callback_policy.hours, ctx.calendar)
        _, numbers = state.route_for(ctx.options.on_call, ctx.options.after_hours_on_call,
                                     ctx.options.after_hours_tiers, tier, business)
    return Recorded(fresh, call.call_sid, language, "dial" if numbers else "voicemail", numbers,
                    state.is_answered(call.dial_status), ctx.options.transcribe and language == "en")


def settle(session: Session, ctx: Context, call: CallRow, now: datetime, over: bool) -> None:
    """Derive the final status and, for a missed call, schedule what it owes (once): the engineers'
    reminders at once, the caller's notice only once the call is `over` (they may still be on the line,
    leaving a voicemail, until then)."""
    call.status = state.final_status(call.call_status, call.dial_status)
    call.missed = state.missed_reason(call.call_status, call.dial_status, call.route)
    if call.missed and (call.callback_due is None or over):
        call_tickets.ensure_ticket(session, ctx, call, now)  # outside the savepoint: the call keeps its ticket
        _schedule_follow_ups(session, ctx, call, now, over)
    call.updated_at = now


def _schedule_follow_ups(session: Session, ctx: Context, call: CallRow, now: datetime, over: bool) -> None:
    """The missed call's follow-ups in a SAVEPOINT: if they fail, only they are undone (the call's
    `callback_due` stays when it was set, so the planner still reminds the engineers by it)."""
    try:
        with session.begin_nested():
            followups.schedule(session, ctx, call, now)
            if over:
                followups.schedule_notice(session, ctx, call, now)
    except OperationalError:
        raise  # the database itself (locked, a deadlock, gone): the writer does the request again
    except Exception:  # the follow-ups' guard: whatever they do, the call's own state is recorded
        log.exception("call %s: its follow-ups could not be scheduled", call.call_sid)


# -- what each kind of request changes -------------------------------------------------------------

def _caller(call: CallRow, p: Mapping[str, str]) -> None:
    raw = (p.get("From") or p.get("Caller") or "").strip()
    if call.from_number is None and raw:
        call.from_number = customers.normalise_phone(raw) or raw[:40]
    call.to_number = call.to_number or (p.get("To") or p.get("Called") or "").strip()[:40] or None
    call.caller_country = call.caller_country or (p.get("FromCountry") or p.get("CallerCountry") or "")[:8] or None
    call.caller_name = call.caller_name or (p.get("CallerName") or "").strip()[:200] or None


def _call_status(call: CallRow, event: state.Event, now: datetime) -> None:
    status = event.params.get("CallStatus", "")
    if not status:
        return
    if state.call_status_advances(call.call_status, call.last_sequence, status, event.sequence):
        call.call_status = status
        if event.sequence is not None:
            call.last_sequence = max(call.last_sequence, event.sequence)
    if state.is_terminal(status):
        call.ended_at = call.ended_at or state.reported_at(event.params, now)
        call.duration_s = call.duration_s if call.duration_s is not None else state.seconds(
            event.params.get("CallDuration"))


def _voice(session: Session, ctx: Context, call: CallRow, event: state.Event, now: datetime) -> None:
    _caller(call, event.params)
    _call_status(call, event, now)
    call_tickets.ensure_ticket(session, ctx, call, now)
    if call.route is None:
        tier, _ = call_tickets.ticket_tier(session, call, ctx)
        business = clock.is_business_time(now, ctx.callback_policy.hours, ctx.calendar)
        call.route, _ = state.route_for(ctx.options.on_call, ctx.options.after_hours_on_call,
                                        ctx.options.after_hours_tiers, tier, business)


def _gather(session: Session, ctx: Context, call: CallRow, event: state.Event, now: datetime) -> None:
    digits = event.params.get("Digits", "")
    for language, prompt in ctx.options.prompts.items():
        if prompt.digit and prompt.digit == digits[:1]:
            call.language, call.language_chosen = language, True
            if call.opened_ticket and call.ticket_id:
                ticket = session.get(models.Ticket, call.ticket_id)
                if ticket is not None and ticket.language != language:
                    caller = call.caller_name or call_tickets.caller_number(call) or call.from_number or "?"
                    subject = call_tickets.SUBJECTS.get(language, call_tickets.SUBJECTS["en"])
                    ticket.language, ticket.subject, ticket.updated_at = language, subject.format(caller=caller), now
            break
    _voice(session, ctx, call, event, now)


def _answered(session: Session, call: CallRow, first: bool, now: datetime, at: datetime | None = None,
              by: str | None = None) -> None:
    """A person answered: the earliest answer time the engineer's leg reported, and nothing is owed (what
    an earlier miss scheduled is cancelled the first time we hear of the answer)."""
    if at is not None:
        call.answered_at = min(call.answered_at, at) if call.answered_at else at
    call.answered_by = call.answered_by or by
    call.callback_due = None
    if first:
        followups.cancel_pending(session, call, now)


def _dial(session: Session, ctx: Context, call: CallRow, event: state.Event, now: datetime) -> None:
    status, first = event.params.get("DialCallStatus", ""), not state.is_answered(call.dial_status)
    if status:
        call.dial_status = state.dial_status_merge(call.dial_status, status)
    if state.is_answered(status):  # when, and who, the engineer's leg reports (it carries a Timestamp)
        _answered(session, call, first, now)
    elif status:
        call.route = "voicemail"  # our answer to this request records a voicemail
    call_tickets.ensure_ticket(session, ctx, call, now)


def _dial_status(session: Session, ctx: Context, call: CallRow, event: state.Event, now: datetime) -> None:
    status, first = event.params.get("CallStatus", ""), not state.is_answered(call.dial_status)
    if not status:
        return
    call.dial_status = state.dial_status_merge(call.dial_status, status)
    call.dial_sequence = max(call.dial_sequence, event.sequence if event.sequence is not None else -1)
    if state.is_answered(status):
        at = state.reported_at(event.params, now)
        if status == "completed":
            at -= timedelta(seconds=state.seconds(event.params.get("CallDuration")) or 0)
        _answered(session, call, first, now, at, event.params.get("To") or event.params.get("Called") or None)


def _recording_fields(session: Session, call: CallRow, p: Mapping[str, str], now: datetime) -> bool:
    """Take the recording's Sid, URL and length; True the first time we hear of it."""
    sid, url = p.get("RecordingSid", ""), p.get("RecordingUrl", "")
    if not sid or not url:
        return False
    first = call.recording_sid is None
    call.recording_sid, call.recording_url = call.recording_sid or sid, call.recording_url or url
    duration = state.seconds(p.get("RecordingDuration"))
    call.recording_duration_s = duration if duration is not None else call.recording_duration_s
    call.route = call.route or "voicemail"
    if first:
        call_tickets.add_voicemail(session, call, now)
    return first


def _record(session: Session, ctx: Context, call: CallRow, event: state.Event, now: datetime) -> None:
    call_tickets.ensure_ticket(session, ctx, call, now)
    call.route = "voicemail"
    _recording_fields(session, call, event.params, now)


def _status(session: Session, ctx: Context, call: CallRow, event: state.Event, now: datetime) -> None:
    _caller(call, event.params)
    _call_status(call, event, now)
    call_tickets.ensure_ticket(session, ctx, call, now)


def _recording(session: Session, ctx: Context, call: CallRow, event: state.Event, now: datetime) -> None:
    call_tickets.ensure_ticket(session, ctx, call, now)
    status = event.params.get("RecordingStatus", "")
    if status and call.recording_status != "completed":
        call.recording_status = status
    if status == "completed":
        _recording_fields(session, call, event.params, now)
        followups.schedule_transcription(session, ctx, call, now)


def _transcription(session: Session, ctx: Context, call: CallRow, event: state.Event, now: datetime) -> None:
    call_tickets.ensure_ticket(session, ctx, call, now)
    _recording_fields(session, call, event.params, now)
    p = event.params
    status, text = p.get("TranscriptionStatus", ""), p.get("TranscriptionText", "")
    if call.transcription_status != "completed":
        call.transcription_status = status or call.transcription_status
    if status == "completed" and text.strip():
        record_transcript(session, ctx, call, text.strip(), "twilio", now, sid=p.get("TranscriptionSid"))


def record_transcript(session: Session, ctx: Context, call: CallRow, text: str, source: str, now: datetime,
                      sid: str | None = None) -> None:
    """A transcript from Twilio or from our own speech-to-text: kept on the call (the first one), added to
    the ticket and graded."""
    if not call.transcription_text:
        call.transcription_text, call.transcription_source = text, source
        call.transcription_sid = call.transcription_sid or sid
        call.transcription_status = "completed"
    call_tickets.add_transcript(session, ctx, call, text, source, now)
    call.updated_at = now


APPLY = {
    "voice": _voice,
    "gather": _gather,
    "dial": _dial,
    "record": _record,
    "status": _status,
    "dial-status": _dial_status,
    "recording": _recording,
    "transcription": _transcription,
}
