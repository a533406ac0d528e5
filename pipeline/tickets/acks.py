"""The acknowledgement a new ticket owes its customer: rendered now, sent later by the job worker.

Its Message-ID is recorded as an outbound message of the ticket at once, so a reply that quotes it
threads even before the ack has left.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline import render
from pipeline.records import ParsedMail
from pipeline.sla import deadlines as sla
from pipeline.store import models

ACK = "ack"


def format_local(moment: datetime | None, zone: str) -> str | None:
    """A deadline as the customer reads it: local time with its offset."""
    if moment is None:
        return None
    local = moment.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def new_message_id(ticket_number: str, kind: str, domain: str) -> str:
    return f"{ticket_number}.{kind}.{secrets.token_hex(6)}@{domain}"


@dataclass(frozen=True)
class AckBuilder:
    templates: render.Templates
    service: sla.ServicePolicy
    from_address: str
    signature: str = ""

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2]

    def build(
        self, ticket: models.Ticketish, mail: ParsedMail, *, now: datetime, recipient: str
    ) -> str | tuple[dict[str, Any], dict[str, Any]]:
        """The ack's job row and outbound message row, or why there is none."""
        if not recipient or "@" not in recipient:
            return "no address to acknowledge"
        if recipient == self.from_address:
            return "own address"
        language = self.templates.language_for(ACK, ticket.language)
        context = {
            "ticket": ticket,
            "language": language,
            "severity_name": sla.level_name(self.service, ticket.severity, language),
            "response_due": format_local(ticket.response_due, ticket.timezone),
            "resolve_due": format_local(ticket.resolve_due, ticket.timezone),
            "signature": self.signature,
        }
        rendered = self.templates.render(ACK, language, context)
        assert ticket.number is not None
        message_id = new_message_id(ticket.number, ACK, self.domain)
        references = [*mail.references, *([mail.message_id] if mail.message_id else [])]
        job = dict(
            kind=ACK,
            channel="email",
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            recipient=recipient,
            subject=rendered.subject,
            language=rendered.language,
            body_text=rendered.text,
            body_html=rendered.html,
            message_id=message_id,
            payload={"in_reply_to": mail.message_id, "references": references[-20:]},
            status="pending",
            due_at=now,
            attempts=0,
            dedupe_key=f"ack:{ticket.id}",
            created_at=now,
        )
        message = dict(
            ticket_id=ticket.id,
            raw_id=None,
            direction="out",
            kind=ACK,
            message_id=message_id,
            in_reply_to=mail.message_id,
            references=None,
            from_addr=self.from_address,
            from_name=None,
            to_addrs=recipient,
            subject=rendered.subject,
            text=rendered.text,
            customer_text=None,
            language=rendered.language,
            automatic=None,
            decoding=None,
            created_at=now,
        )
        return job, message
