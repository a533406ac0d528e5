"""Rows as the public interface shows them (docs/contract.md): the CLI's --json and any page use these.

Times are ISO 8601 with an offset, in the ticket's (customer's) time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from pipeline.sla import deadlines
from pipeline.store import models, queries


def local(moment: datetime | None, zone: str) -> str | None:
    return moment.astimezone(ZoneInfo(zone)).isoformat() if moment else None


def onsite_done_at(ticket: models.Ticket) -> datetime | None:
    """The on-site clock stops at the engineer's arrival, or when the service is restored without one."""
    return min((t for t in (ticket.onsite_at, ticket.resolved_at) if t is not None), default=None)


NOT_PROMISED = "none"  # the clock's state when its level promises nothing (level 4 on site): no due


def sla_row(ticket: models.Ticket, now: datetime) -> dict[str, dict[str, Any]]:
    """Per clock: due, met / breached / running (none: nothing promised), and seconds left (negative:
    late). The resolve clock stands still while the ticket waits for the customer; on-site ends at the
    engineer's arrival (or when the service is restored first)."""
    clocks = (("response", ticket.response_due, ticket.first_response_at),
              ("onsite", ticket.onsite_due, onsite_done_at(ticket)),
              ("resolve", ticket.resolve_due, ticket.resolved_at))
    row = {}
    for name, due, done in clocks:
        paused = name == "resolve" and ticket.status == "waiting" and ticket.waiting_since is not None
        status = deadlines.clock_status(due, done, ticket.waiting_since if paused else now)
        state = status.state if due is not None else NOT_PROMISED
        row[name] = {"due": local(due, ticket.timezone), "state": state, "time_left_s": status.time_left_s,
                     "paused": paused}
    return row


def ticket_row(ticket: models.Ticket, customer: models.Customer | None, now: datetime | None = None) -> dict[str, Any]:
    zone = ticket.timezone
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "channel": ticket.channel,
        "language": ticket.language,
        "severity": ticket.severity,
        "severity_reason": ticket.severity_reason,
        "customer": customer.name if customer else None,
        "requester": ticket.requester,
        "tier": ticket.tier,
        "received_at": local(ticket.received_at, zone),
        "response_due": local(ticket.response_due, zone),
        "onsite_due": local(ticket.onsite_due, zone),
        "resolve_due": local(ticket.resolve_due, zone),
        "first_response_at": local(ticket.first_response_at, zone),
        "onsite_at": local(ticket.onsite_at, zone),
        "resolved_at": local(ticket.resolved_at, zone),
        "part_dispatch_on": ticket.part_dispatch_on.isoformat() if ticket.part_dispatch_on else None,
        "escalated": ticket.escalated_at is not None,
        "escalated_at": local(ticket.escalated_at, zone),
        "escalation_reason": ticket.escalation_reason,
        "sla": sla_row(ticket, now or datetime.now(UTC)),
        "assignee": ticket.assignee,
    }


def message_row(message: models.Message, zone: str, attachments: list[models.Attachment]) -> dict[str, Any]:
    return {
        "direction": message.direction,
        "kind": message.kind,
        "message_id": message.message_id,
        "from": message.from_addr,
        "to": message.to_addrs,
        "subject": message.subject,
        "at": local(message.created_at, zone),
        "language": message.language,
        "automatic": message.automatic,
        "decoding": message.decoding,
        "text": message.text,
        "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size}
                        for a in attachments],
    }


def ticket_detail(session: Session, ticket: models.Ticket, now: datetime | None = None) -> dict[str, Any]:
    customer = session.get(models.Customer, ticket.customer_id) if ticket.customer_id else None
    row = ticket_row(ticket, customer, now)
    messages = queries.ticket_messages(session, ticket.id)
    by_message: dict[int, list[models.Attachment]] = {}
    for attachment in queries.message_attachments(session, [m.id for m in messages]):
        by_message.setdefault(attachment.message_id, []).append(attachment)
    row["messages"] = [message_row(m, ticket.timezone, by_message.get(m.id, [])) for m in messages]
    return row


def job_row(job: models.Job, ticket_numbers: dict[int, str | None]) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "channel": job.channel,
        "ticket": ticket_numbers.get(job.ticket_id) if job.ticket_id else None,
        "to": job.recipient,
        "recipient": job.recipient,
        "subject": job.subject,
        "language": job.language,
        "status": job.status,
        "due_at": job.due_at.isoformat(),
        "sent_at": job.sent_at.isoformat() if job.sent_at else None,
        "attempts": job.attempts,
        "last_error": job.last_error,
        "message_id": job.message_id,
        "text": job.body_text,
    }


def customer_row(customer: models.Customer, contacts: list[models.Contact]) -> dict[str, Any]:
    def values(kind: str) -> list[str]:
        return [c.value for c in contacts if c.kind == kind]

    return {
        "id": customer.id,
        "name": customer.name,
        "emails": values("email"),
        "domains": values("domain"),
        "phones": values("phone"),
        "tier": customer.tier,
        "manager_email": customer.manager_email,
        "timezone": customer.timezone,
        "policy_overrides": customer.policy_overrides,
    }


def raw_row(raw: models.RawInput) -> dict[str, Any]:
    return {
        "id": raw.id,
        "source": raw.source,
        "reason": raw.reason,
        "received_at": raw.received_at.isoformat(),
        "message_id": raw.message_id,
        "size": raw.size,
        "attempts": raw.attempts,
    }


def reminder_row(job: models.Job, ticket_numbers: dict[int, str | None], zone: str) -> dict[str, Any]:
    """A scheduled job (`intake reminders list`): reminders, warnings, escalations, invitations, surveys."""
    return {
        "id": job.id,
        "kind": job.kind,
        "ticket": ticket_numbers.get(job.ticket_id) if job.ticket_id else None,
        "due_at": local(job.due_at, zone),
        "recipient": job.recipient,
        "channel": job.channel,
        "status": job.status,
        "sent_at": local(job.sent_at, zone),
        "subject": job.subject,
        "last_error": job.last_error,
    }


def visit_row(visit: models.Visit, customer: models.Customer | None, ticket_number: str | None,
              job_status: str | None, zone: str) -> dict[str, Any]:
    """A visit (`intake visits list`): done once its day's job was sent, failed when that job failed."""
    status = visit.status
    if status == "planned" and job_status in ("sent", "failed"):
        status = "done" if job_status == "sent" else "failed"
    return {
        "id": visit.id,
        "kind": visit.kind,
        "mode": visit.mode,
        "customer": customer.name if customer else None,
        "ticket": ticket_number,
        "date": visit.date.isoformat(),
        "starts_at": local(visit.starts_at, zone),
        "recipient": visit.recipient,
        "status": status,
    }


# --- hotline (Twilio) -------------------------------------------------------------------------------

def call_row(call: models.Call, customer: models.Customer | None, ticket: models.Ticket | None,
             zone: str) -> dict[str, Any]:
    """`intake calls list`: times in the ticket's (customer's) zone, else the service zone."""
    zone = ticket.timezone if ticket else zone
    return {
        "call_sid": call.call_sid,
        "from": call.from_number,
        "to": call.to_number,
        "customer": customer.name if customer else None,
        "status": call.status,
        "started_at": local(call.started_at, zone),
        "duration": call.duration_s,
        "ticket": ticket.number if ticket else None,
        "recording_url": call.recording_url,
        "callback_due": local(call.callback_due, zone),
        "language": call.language,
        "route": call.route,
        "missed": call.missed,
        "answered_by": call.answered_by,
        "answered_at": local(call.answered_at, zone),
        "ended_at": local(call.ended_at, zone),
    }


def call_detail(session: Session, call: models.Call, zone: str) -> dict[str, Any]:
    """`intake calls show`: the row, the recording and transcription, every callback Twilio made."""
    customer = session.get(models.Customer, call.customer_id) if call.customer_id else None
    ticket = session.get(models.Ticket, call.ticket_id) if call.ticket_id else None
    row = call_row(call, customer, ticket, zone)
    zone = ticket.timezone if ticket else zone
    row.update({
        "caller_country": call.caller_country,
        "caller_name": call.caller_name,
        "call_status": call.call_status,
        "dial_status": call.dial_status,
        "opened_ticket": call.opened_ticket,
        "language_chosen": call.language_chosen,
        "recording_sid": call.recording_sid,
        "recording_duration": call.recording_duration_s,
        "recording_status": call.recording_status,
        "recording_path": call.recording_path,
        "transcription": call.transcription_text,
        "transcription_status": call.transcription_status,
        "transcription_source": call.transcription_source,
        "callbacks": [
            {"kind": event.kind, "received_at": local(event.received_at, zone), "sequence": event.sequence,
             "status": _event_status(event.payload), "error": event.error, "params": event.payload}
            for event in queries.call_events(session, call.call_sid)
        ],
        "jobs": [
            {"id": job.id, "kind": job.kind, "channel": job.channel, "recipient": job.recipient,
             "status": job.status, "due_at": local(job.due_at, zone), "text": job.body_text}
            for job in queries.call_jobs(session, call.call_sid, call.ticket_id)
        ],
    })
    return row


def _event_status(payload: dict[str, Any]) -> str | None:
    for name in ("DialCallStatus", "RecordingStatus", "TranscriptionStatus", "CallStatus"):
        if payload.get(name):
            return str(payload[name])
    return None
