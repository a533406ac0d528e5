"""Rows as the public interface shows them (docs/contract.md): the CLI's --json and any page use these.

Times are ISO 8601 with an offset, in the ticket's (customer's) time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from pipeline.store import models, queries


def local(moment: datetime | None, zone: str) -> str | None:
    return moment.astimezone(ZoneInfo(zone)).isoformat() if moment else None


def ticket_row(ticket: models.Ticket, customer: models.Customer | None) -> dict[str, Any]:
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
        "resolved_at": local(ticket.resolved_at, zone),
        "part_dispatch_on": ticket.part_dispatch_on.isoformat() if ticket.part_dispatch_on else None,
        "escalated": ticket.escalated_at is not None,
        "escalated_at": local(ticket.escalated_at, zone),
        "escalation_reason": ticket.escalation_reason,
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


def ticket_detail(session: Session, ticket: models.Ticket) -> dict[str, Any]:
    customer = session.get(models.Customer, ticket.customer_id) if ticket.customer_id else None
    row = ticket_row(ticket, customer)
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
