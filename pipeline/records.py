"""Plain values passed between the layers: what a channel hands in, what parse and triage say.

They are frozen so a pure stage cannot change what an earlier one decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """Fault levels as the service commitments grade them: 1 is the most severe."""

    CRITICAL = 1  # system down / service interrupted
    MAJOR = 2  # risk of outage, severe degradation
    MINOR = 3  # service partly degraded
    QUESTION = 4  # intermittent, or a question on use / configuration


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


class IngestStatus(StrEnum):
    CREATED = "created"
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    SUPPRESSED = "suppressed"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class RawInput:
    """Bytes exactly as a channel received them, before anything can fail."""

    raw: bytes
    source: str  # "smtp", "imap:NAME", or the file path for `intake ingest`
    received_at: datetime  # aware
    envelope_from: str | None = None  # SMTP MAIL FROM; "" for the null sender <>
    envelope_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attachment:
    filename: str  # already made safe: no separators, no traversal, length-limited
    content_type: str
    content: bytes  # byte-exact
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class ParsedMail:
    """What the MIME parser understood of one message; every text field is decoded str."""

    message_id: str | None  # without angle brackets
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_name: str
    from_addr: str  # lower-cased addr-spec, "" when missing
    return_path: str | None  # None when absent, "" for the null sender <>
    reply_to: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str  # the readable body: text/plain, or HTML turned into text
    html: str | None
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...]  # (lower-case name, decoded value), in order
    content_type: str  # top-level, lower case, e.g. "multipart/report"
    part_types: tuple[str, ...]  # every part's content type, depth-first
    decoding: tuple[str, ...]  # fallbacks used; empty when every part decoded strictly
    defects: tuple[str, ...] = ()
    embedded_message_ids: tuple[str, ...] = ()  # Message-IDs of messages quoted in reports/forwards
    size: int = 0

    def header(self, name: str) -> str | None:
        """First value of a header, or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]


@dataclass(frozen=True)
class Triage:
    """What the pure triage functions decided about one message."""

    language: str  # "zh-Hans", "zh-Hant", "en", or an ISO 639-1 code
    severity: Severity
    severity_reason: str
    automatic: str | None  # why no acknowledgement may go out, or None for a human's mail
    ticket_ref: str | None  # a ticket number found in the subject
    thread_ids: tuple[str, ...]  # Message-IDs this mail answers (In-Reply-To, References)
    text: str  # the customer's own words: quotes, signatures and footers removed
    escalation: str | None = None  # why the customer wants a manager, or None
    bounce_of: tuple[str, ...] = ()  # Message-IDs of our mail that this bounce reports


@dataclass(frozen=True)
class IngestResult:
    source: str
    status: IngestStatus
    ticket: str | None = None
    language: str | None = None
    severity: int | None = None
    reason: str | None = None
    raw_id: int | None = None
    ticket_id: int | None = None

    def summary(self) -> str:
        """What became of the input, naming only what it has, for a log line: 'created SR-000001',
        'suppressed (auto-reply: Auto-Submitted)', 'appended SR-000002 (reply)'."""
        text = " ".join(str(part) for part in (self.status, self.ticket) if part)
        return f"{text} ({self.reason})" if self.reason else text

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "status": str(self.status),
            "ticket": self.ticket,
            "language": self.language,
            "severity": self.severity,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Deadlines:
    """When each promise falls due; None where the level promises nothing."""

    response_due: datetime | None
    onsite_due: datetime | None
    resolve_due: datetime | None
    notes: tuple[str, ...] = field(default=())
