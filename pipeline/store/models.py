"""The tables. One vocabulary with the code, templates and CLI: Customer, Ticket, Message, RawInput, Job.

Timestamps end in `_at` and are stored as aware UTC; `alembic upgrade head` must equal this file
(tests/store/test_migrations.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, straight to the text SQLAlchemy's DATETIME stores ("2026-11-23 02:43:21.000000"):
        one call per value instead of this decorator's plus the dialect's (ingest binds a dozen per mail)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the store; pass an aware datetime")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return to_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON, date: Date}


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tier: Mapped[str] = mapped_column(String(10))  # "24x7" | "8x5"
    manager_email: Mapped[str | None] = mapped_column(String(320))
    timezone: Mapped[str] = mapped_column(String(64))
    policy_overrides: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Contact(Base):
    """One way to recognise a customer: an e-mail address, a mail domain or an E.164 phone number."""

    __tablename__ = "contacts"
    __table_args__ = (Index("uq_contacts_kind_value", "kind", "value", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "email" | "domain" | "phone"
    value: Mapped[str] = mapped_column(String(320))


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)  # open | waiting | resolved
    channel: Mapped[str] = mapped_column(String(10))  # email | phone
    language: Mapped[str] = mapped_column(String(10))
    severity: Mapped[int] = mapped_column(Integer)
    severity_reason: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    requester: Mapped[str] = mapped_column(String(320), index=True)  # e-mail address or E.164 number
    requester_name: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(10))
    timezone: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    response_due: Mapped[datetime | None]
    onsite_due: Mapped[datetime | None]
    resolve_due: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    onsite_at: Mapped[datetime | None]  # the engineer arrived on site (`intake tickets onsite`)
    resolved_at: Mapped[datetime | None]
    waiting_since: Mapped[datetime | None]
    paused_s: Mapped[int] = mapped_column(Integer, default=0)
    part_dispatch_on: Mapped[date | None]
    escalated_at: Mapped[datetime | None]
    escalation_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)  # the engineer (`intake tickets assign`)


class TicketDraft(SimpleNamespace):
    """A ticket about to be inserted: plain attributes named like Ticket's columns, without the ORM's
    per-attribute bookkeeping (a bulk import makes thousands)."""

    id: int | None
    number: str | None
    onsite_at: datetime | None = None  # nobody is on site when a ticket arrives; writers need not name it
    assignee: str | None = None  # nor is anyone assigned yet


Ticketish = Ticket | TicketDraft


class RawInput(Base):
    """Bytes exactly as received, stored before anything else may fail; the quarantine lives here too."""

    __tablename__ = "raw_inputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(1000), unique=True)  # "mid:<id>" or "sha256:<hex>"
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    message_id: Mapped[str | None] = mapped_column(String(998))
    source: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10))
    envelope_from: Mapped[str | None] = mapped_column(String(320))
    envelope_to: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    spool_path: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)  # received | processed | quarantined
    result: Mapped[str | None] = mapped_column(String(20))  # created | appended | suppressed
    reason: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_inputs.id"), index=True)
    # internal: a note staff wrote on the ticket (`intake tickets note`), never sent to the customer
    direction: Mapped[str] = mapped_column(String(8))  # in | out | internal
    kind: Mapped[str] = mapped_column(String(20))  # mail | ack | staff | auto | bounce | call | voicemail | note
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)
    from_addr: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    to_addrs: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    customer_text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(10))
    automatic: Mapped[str | None] = mapped_column(Text)  # why no ack went out
    decoding: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    content_id: Mapped[str | None] = mapped_column(String(998))
    inline: Mapped[bool] = mapped_column(default=False)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Job(Base):
    """Outgoing work: acknowledgements, reminders, escalations, visits. Claimed with SKIP LOCKED."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | internal
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    recipient: Mapped[str | None] = mapped_column(String(320), index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(10))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # pending | running | sent | failed | cancelled
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]
    dedupe_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


# --- mailbox channel (IMAP) -------------------------------------------------------------------------


class MailboxState(Base):
    """Where a watched mailbox stands, and who holds its lease (one poller per mailbox)."""

    __tablename__ = "mailbox_states"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    connected: Mapped[bool] = mapped_column(default=False)
    idle: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_seen_at: Mapped[datetime | None]
    holder: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


# --- hotline (Twilio) -------------------------------------------------------------------------------


class Call(Base):
    """One hotline call, keyed by Twilio's CallSid; callbacks update it idempotently.

    `call_status` is Twilio's status of the caller's leg and `dial_status` that of the leg to the on-call
    engineer, each applied in SequenceNumber order and never taken back from a final state; `status` is
    what the caller got (pipeline.calls.state.final_status): completed only when a person answered.
    """

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str | None] = mapped_column(String(40), index=True)  # E.164 when it parses
    to_number: Mapped[str | None] = mapped_column(String(40))
    caller_country: Mapped[str | None] = mapped_column(String(8))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(10))
    language_chosen: Mapped[bool] = mapped_column(default=False)  # by a key press
    opened_ticket: Mapped[bool] = mapped_column(default=False)  # False: joined an open ticket
    status: Mapped[str] = mapped_column(String(20), index=True)
    call_status: Mapped[str | None] = mapped_column(String(20))
    last_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    dial_status: Mapped[str | None] = mapped_column(String(20))
    dial_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    route: Mapped[str | None] = mapped_column(String(20))  # dial | voicemail
    missed: Mapped[str | None] = mapped_column(String(20))  # why nobody answered: no-answer, busy, ...
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[int | None] = mapped_column(Integer)
    answered_by: Mapped[str | None] = mapped_column(String(100))
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    recording_url: Mapped[str | None] = mapped_column(Text)
    recording_status: Mapped[str | None] = mapped_column(String(20))
    recording_duration_s: Mapped[int | None] = mapped_column(Integer)
    recording_path: Mapped[str | None] = mapped_column(Text)  # the downloaded copy speech-to-text read
    transcription_sid: Mapped[str | None] = mapped_column(String(64))
    transcription_text: Mapped[str | None] = mapped_column(Text)
    transcription_status: Mapped[str | None] = mapped_column(String(20))
    transcription_source: Mapped[str | None] = mapped_column(String(20))  # twilio | pocketsphinx | ...
    callback_due: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CallEvent(Base):
    """Every webhook request Twilio made for a call, once (retries share a dedupe key)."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # voice | gather | dial | record | status | recording | ...
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    sequence: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # stored but not applied: why
    received_at: Mapped[datetime]


# --- scheduler (SLA clocks, reminders, visits) ------------------------------------------------------


class Visit(Base):
    """A promised visit or survey: a revisit after a repair, an inspection, a training, a survey mail.

    Planned by pipeline.jobs.scheduler under a stable key; it is done once its day's job (job_key) has
    been sent, which `intake visits list` reads from the jobs table rather than storing twice.
    """

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)  # "revisit:<ticket>:<date>", ...
    kind: Mapped[str] = mapped_column(String(20), index=True)  # revisit | inspection | training | survey
    mode: Mapped[str] = mapped_column(String(10))  # phone | onsite | email
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    recipient: Mapped[str | None] = mapped_column(String(320))  # the customer's contact (survey, invitation)
    date: Mapped[date] = mapped_column(index=True)
    starts_at: Mapped[datetime | None]
    job_key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))  # planned | cancelled
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlanMark(Base):
    """The ticket version the scheduler last planned, so each tick replans only changed tickets."""

    __tablename__ = "plan_marks"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    ticket_updated_at: Mapped[datetime]


class CallPlanMark(Base):
    """The call version the scheduler last planned (its callback jobs), so each tick replans only changed
    calls."""

    __tablename__ = "call_plan_marks"

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    call_updated_at: Mapped[datetime]
