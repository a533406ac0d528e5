"""Recording triaged mail: what a batch of messages means for tickets, written with a few statements.

`Recorder.add` decides for one message (new ticket, appended, suppressed) and queues its rows;
`Recorder.flush` writes the queued rows with one executemany per table, renders the acknowledgements
of the new tickets and marks the raw inputs processed. Everything happens in the caller's
transaction, so a batch commits whole or not at all. Per-message statements cost more than the rest
of ingest together (bench/ingest.py), hence the queue.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from pipeline.records import Attachment, IngestResult, IngestStatus, ParsedMail, Triage
from pipeline.store import models, writes
from pipeline.tickets import service

TICKET_COLUMNS = [c.key for c in models.Ticket.__mapper__.column_attrs if c.key not in ("id", "number")]
# columns a new mail ticket leaves empty (the clocks are set by apply_deadlines)
UNSET_ON_ARRIVAL = ("response_due", "onsite_due", "resolve_due", "first_response_at", "resolved_at",
                    "waiting_since", "part_dispatch_on")


@dataclass
class _Pending:
    """One message waiting for its rows to be written."""

    raw_id: int | None
    source: str
    mail: ParsedMail
    triage: Triage
    received_at: datetime
    status: IngestStatus
    ticket: models.Ticketish | None
    kind: str = "mail"
    reason: str | None = None


@dataclass
class Recorder:
    session: Session
    ctx: service.Context
    now: datetime
    _pending: list[_Pending] = field(default_factory=list)
    _done: list[IngestResult] = field(default_factory=list)
    _customers: dict[str, Row[Any] | None] = field(default_factory=dict)
    _acks_by_recipient: dict[str, int] = field(default_factory=dict)

    def prefetch(self, mails: list[ParsedMail]) -> None:
        """Look up the customers and recent acks of a whole batch's senders in two queries."""
        senders = {m.from_addr.lower() for m in mails if m.from_addr} - set(self._customers)
        self._customers.update(writes.customers_for_addresses(self.session, senders))
        recipients = {(m.reply_to or m.from_addr or "").strip().lower() for m in mails} - {""}
        if self.ctx.ack_rate_limit_per_hour:
            self._acks_by_recipient.update(writes.acks_since_many(
                self.session, recipients - set(self._acks_by_recipient), self.now - timedelta(hours=1)))

    def add(self, *, raw_id: int | None, source: str, mail: ParsedMail, triage: Triage,
            received_at: datetime) -> None:
        """Decide what one inbound mail means and queue its rows."""
        ticket = None
        if triage.ticket_ref or triage.thread_ids or triage.bounce_of:
            self.flush()  # a reply may answer a ticket opened earlier in this very batch
            ticket = service.find_ticket(self.session, mail, triage)
        staff = service.is_staff(self.ctx, mail.from_addr)
        pending = _Pending(raw_id, source, mail, triage, received_at, IngestStatus.CREATED, ticket)

        if triage.automatic or (staff and ticket is None):
            pending.reason = triage.automatic or "staff mail outside any ticket"
            pending.status = IngestStatus.SUPPRESSED
            pending.kind = "bounce" if pending.reason.startswith("bounce") else "auto"
        elif ticket is not None:
            pending.status, pending.kind = IngestStatus.APPENDED, "staff" if staff else "mail"
            pending.reason = self._append(ticket, triage, received_at, staff)
        else:
            pending.ticket = self._new_ticket(mail, triage, received_at)
        self._pending.append(pending)

    def _append(self, ticket: models.Ticket, triage: Triage, received_at: datetime, staff: bool) -> str | None:
        reason = None
        if staff:
            if ticket.first_response_at is None:
                ticket.first_response_at = received_at
        elif ticket.status == service.RESOLVED:
            ticket.status, ticket.resolved_at = service.OPEN, None
            reason = "reopened"
        elif ticket.status == service.WAITING:
            service.resume(ticket, received_at, self.ctx)
            service.apply_deadlines(self.ctx, ticket, self.session.get(models.Customer, ticket.customer_id or -1))
        if triage.escalation and ticket.escalated_at is None:
            # asked when they wrote: the scheduler escalates to their manager at that instant
            ticket.escalated_at, ticket.escalation_reason = received_at, triage.escalation
        ticket.updated_at = self.now
        return reason

    def _customer(self, address: str) -> Row[Any] | None:
        address = address.lower()
        if address not in self._customers:
            self._customers[address] = writes.customer_for_address(self.session, address) if address else None
        return self._customers[address]

    def _new_ticket(self, mail: ParsedMail, triage: Triage, received_at: datetime) -> models.TicketDraft:
        customer = self._customer(mail.from_addr)
        ticket = models.TicketDraft(
            id=None,
            number=None,
            subject=mail.subject or "(no subject)",
            status=service.OPEN,
            channel="email",
            language=triage.language,
            severity=int(triage.severity),
            severity_reason=triage.severity_reason,
            customer_id=customer.id if customer else None,
            requester=mail.from_addr,
            requester_name=mail.from_name or None,
            tier=customer.tier if customer else self.ctx.default_tier,
            timezone=customer.timezone if customer else self.ctx.default_timezone,
            received_at=received_at,
            paused_s=0,
            escalated_at=received_at if triage.escalation else None,
            escalation_reason=triage.escalation,
            created_at=self.now,
            updated_at=self.now,
            **dict.fromkeys(UNSET_ON_ARRIVAL),
        )
        service.apply_deadlines(self.ctx, ticket, customer)
        return ticket

    # Writing ------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every queued row; afterwards `results()` includes the queued messages."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        new = [p for p in pending if p.status == IngestStatus.CREATED and p.ticket is not None]
        if new:
            rows = [{key: getattr(p.ticket, key) for key in TICKET_COLUMNS} for p in new]
            for p, ticket_id in zip(new, writes.insert_tickets(self.session, rows), strict=True):
                assert p.ticket is not None
                p.ticket.id = ticket_id
                p.ticket.number = service.ticket_number(self.ctx.ticket_prefix, ticket_id)
            writes.set_ticket_numbers(self.session, [(p.ticket.id, p.ticket.number) for p in new if p.ticket])
        message_ids = writes.insert_messages(self.session, [self._message_row(p) for p in pending],
                                             returning=any(p.mail.attachments for p in pending))
        attachments = [_attachment_row(message_id, attachment)
                       for p, message_id in zip(pending, message_ids, strict=False)
                       for attachment in p.mail.attachments]
        if attachments:
            writes.insert_attachments(self.session, attachments)
        acks = []
        for p in new:
            assert p.ticket is not None
            p.reason = self._schedule_ack(p, acks)
        if acks:
            writes.insert_jobs(self.session, [job for job, _ in acks])
            writes.insert_messages(self.session, [message for _, message in acks], returning=False)
        processed = [p for p in pending if p.raw_id is not None]
        if processed:
            writes.mark_processed(self.session, [
                {"raw_id": p.raw_id, "result": str(p.status), "reason": p.reason,
                 "ticket_id": p.ticket.id if p.ticket else None, "processed_at": self.now}
                for p in processed])
        self._done.extend(self._result(p) for p in pending)

    def _schedule_ack(self, p: _Pending, acks: list[tuple[dict[str, Any], dict[str, Any]]]) -> str | None:
        assert p.ticket is not None
        recipient = (p.mail.reply_to or p.mail.from_addr or "").strip().lower()
        limit = self.ctx.ack_rate_limit_per_hour
        if limit and recipient:
            if recipient not in self._acks_by_recipient:
                self._acks_by_recipient[recipient] = writes.acks_since(self.session, recipient,
                                                                       self.now - timedelta(hours=1))
            if self._acks_by_recipient[recipient] >= limit:
                return f"ack rate limit: {limit} per hour to {recipient}"
        built = self.ctx.ack_builder.build(p.ticket, p.mail, now=self.now, recipient=recipient)
        if isinstance(built, str):
            return built
        acks.append(built)
        self._acks_by_recipient[recipient] = self._acks_by_recipient.get(recipient, 0) + 1
        return None

    @staticmethod
    def _message_row(p: _Pending) -> dict[str, Any]:
        mail, triage = p.mail, p.triage
        return dict(
            ticket_id=p.ticket.id if p.ticket else None,
            raw_id=p.raw_id,
            direction="in",
            kind=p.kind,
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
            created_at=p.received_at,
        )

    def _result(self, p: _Pending) -> IngestResult:
        return IngestResult(
            source=p.source,
            status=p.status,
            ticket=p.ticket.number if p.ticket else None,
            language=p.triage.language,
            severity=int(p.ticket.severity if p.ticket else p.triage.severity),
            reason=p.reason,
            raw_id=p.raw_id,
            ticket_id=p.ticket.id if p.ticket else None,
        )

    def results(self) -> list[IngestResult]:
        self.flush()
        return list(self._done)


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
