"""The acknowledgement a new ticket owes its customer: rendered now, sent later by the job worker.

Its Message-ID is recorded as an outbound message of the ticket at once, so a reply that quotes it
threads even before the ack has left. An ack falls due when its mail arrived, so mail that arrived more
than the scheduler's catch_up ago (old mail imported, a quarantined message retried days later) gets
none, as no other job that late is sent. Its text and HTML parts say the same things; the hotline line
names our number (twilio_number) and is left out when none is configured.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from pipeline import render
from pipeline.records import ParsedMail
from pipeline.runtime import Runtime
from pipeline.sla import clock
from pipeline.sla import deadlines as sla
from pipeline.store import models

ACK = "ack"
CATCH_UP = "3d"  # the scheduler's default ([scheduler] catch_up in pipeline/policy/service.toml)


def format_local(moment: datetime | None, zone: str) -> str | None:
    """A deadline as the customer reads it: local time with its offset."""
    if moment is None:
        return None
    local = moment.astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def new_message_id(ticket_number: str, kind: str, domain: str) -> str:
    return f"{ticket_number}.{kind}.{secrets.token_hex(6)}@{domain}"


def display_number(number: str) -> str:
    """Our hotline as a customer dials it from anywhere: "+86 21 5555 0100" for "+862155550100"."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def catch_up_of(policy: Mapping[str, Any]) -> timedelta:
    """The policy's [scheduler] catch_up: a job that fell due longer ago than this is not sent."""
    scheduler = policy.get("scheduler")
    value = scheduler.get("catch_up", CATCH_UP) if isinstance(scheduler, Mapping) else CATCH_UP
    return clock.parse_length(value, "scheduler.catch_up")  # as pipeline/jobs/rules.py reads it


def length_text(length: timedelta) -> str:
    """'3 days', '12 hours', '90 minutes': a catch_up as a reason says it."""
    seconds = int(length.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


@dataclass(frozen=True)
class AckBuilder:
    templates: render.Templates
    service: sla.ServicePolicy
    from_address: str
    signature: str = ""
    hotline_number: str | None = None  # our hotline (twilio_number): the ack tells customers to call it
    catch_up: timedelta | None = None  # mail that arrived longer ago than this is not acknowledged

    @classmethod
    def of(cls, rt: Runtime) -> AckBuilder:
        """The builder of this process: our From, our hotline number, the scheduler's catch_up."""
        settings = rt.settings
        return cls(rt.templates, rt.service_policy, settings.service_address,
                   hotline_number=settings.twilio_number or None,
                   catch_up=catch_up_of(rt.policy) or None)  # "" (zero) would acknowledge nothing: no limit

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2]

    def too_late(self, ticket: models.Ticketish, now: datetime) -> str | None:
        """Why an ack for mail that arrived this long ago would be news nobody needs any more, if it would."""
        if self.catch_up is None or ticket.received_at >= now - self.catch_up:
            return None
        arrived = format_local(ticket.received_at, ticket.timezone)
        return f"not acknowledged: arrived {arrived}, more than {length_text(self.catch_up)} ago"

    def build(
        self, ticket: models.Ticketish, mail: ParsedMail, *, now: datetime, recipient: str
    ) -> str | tuple[dict[str, Any], dict[str, Any]]:
        """The ack's job row and outbound message row, or why there is none."""
        if not recipient or "@" not in recipient:
            return "no address to acknowledge"
        if recipient == self.from_address:
            return "own address"
        if late := self.too_late(ticket, now):
            return late
        language = self.templates.language_for(ACK, ticket.language)
        context = {
            "ticket": ticket,
            "language": language,
            "severity_name": sla.level_name(self.service, ticket.severity, language),
            "response_due": format_local(ticket.response_due, ticket.timezone),
            "resolve_due": format_local(ticket.resolve_due, ticket.timezone),
            "signature": self.signature,
            "hotline": display_number(self.hotline_number) if self.hotline_number else None,
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
