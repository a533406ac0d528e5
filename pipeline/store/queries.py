"""Reads, and the few statements that must be written one way (claims). Listings read through here so
`--json` and any page show the same rows."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from pipeline.store import models
from pipeline.store.models import Attachment, Contact, Customer, Job, Message, RawInput, Ticket, Visit


def customer_by_address(session: Session, address: str) -> Customer | None:
    """The customer an e-mail address belongs to: the address itself first, then its domain."""
    address = address.lower()
    domain = address.rpartition("@")[2]
    rows = session.execute(
        select(Customer, Contact.kind)
        .join(Contact, Contact.customer_id == Customer.id)
        .where(
            or_(
                (Contact.kind == "email") & (Contact.value == address),
                (Contact.kind == "domain") & (Contact.value == domain),
            )
        )
    ).all()
    ranked = sorted(rows, key=lambda row: row[1] != "email")
    return ranked[0][0] if ranked else None


def customer_by_phone(session: Session, e164: str) -> Customer | None:
    return session.scalar(
        select(Customer)
        .join(Contact, Contact.customer_id == Customer.id)
        .where(Contact.kind == "phone", Contact.value == e164)
    )


def ticket_by_number(session: Session, number: str) -> Ticket | None:
    number = number.strip()
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None and number.isdigit():
        ticket = session.get(Ticket, int(number))
    return ticket


def ticket_by_message_ids(session: Session, message_ids: Sequence[str]) -> Ticket | None:
    """The ticket of any message (ours or theirs) named in In-Reply-To / References."""
    if not message_ids:
        return None
    return session.scalar(
        select(Ticket)
        .join(Message, Message.ticket_id == Ticket.id)
        .where(Message.message_id.in_(list(message_ids)[:50]))
        .order_by(Message.id.desc())
        .limit(1)
    )


def acks_sent_since(session: Session, recipient: str, since: datetime) -> int:
    return session.scalar(
        select(func.count(Job.id)).where(
            Job.kind == "ack", Job.recipient == recipient.lower(), Job.created_at >= since
        )
    ) or 0


class Nobody(enum.Enum):
    """A filter's value for an empty column: tickets of no customer, or assigned to nobody."""

    NOBODY = "-"


NOBODY = Nobody.NOBODY


@dataclass(frozen=True)
class TicketFilter:
    """What `intake tickets list` narrows to, besides the status: a criterion left at its default lets
    every ticket through, and the others must all hold."""

    severities: tuple[int, ...] = ()
    customer: str | Nobody | None = None  # the customer's exact name
    channel: str | None = None
    assignee: str | Nobody | None = None
    overdue_at: datetime | None = None  # only tickets with an SLA clock still owed and past its due at this instant


def tickets(session: Session, status: str | None = None, limit: int = 1000,
            wanted: TicketFilter | None = None) -> Sequence[Ticket]:
    """Newest first."""
    query = select(Ticket).order_by(Ticket.id.desc()).limit(limit)
    if status:
        query = query.where(Ticket.status == status)
    if wanted is not None:
        query = query.where(*_ticket_criteria(wanted))
    return session.scalars(query).all()


def _ticket_criteria(wanted: TicketFilter) -> list[ColumnElement[bool]]:
    criteria: list[ColumnElement[bool]] = []
    if wanted.severities:
        criteria.append(Ticket.severity.in_(sorted(set(wanted.severities))))
    if wanted.customer is NOBODY:
        criteria.append(Ticket.customer_id.is_(None))
    elif wanted.customer is not None:
        criteria.append(Ticket.customer_id.in_(select(Customer.id).where(Customer.name == wanted.customer)))
    if wanted.channel:
        criteria.append(Ticket.channel == wanted.channel)
    if wanted.assignee is NOBODY:
        criteria.append(Ticket.assignee.is_(None))
    elif wanted.assignee is not None:
        criteria.append(Ticket.assignee == wanted.assignee)
    if wanted.overdue_at is not None:
        criteria.append(overdue(wanted.overdue_at))
    return criteria


def overdue(now: datetime) -> ColumnElement[bool]:
    """An open or waiting ticket with a clock not yet stopped whose due has passed: the clocks that
    pipeline.store.views.sla_row shows as breached while nothing has stopped them. Plain columns, since
    the deadlines are stored (no calendar needed); the resolve clock of a ticket waiting for the customer
    stands still, so it is judged at `waiting_since`, as sla_row judges it."""
    paused = (Ticket.status == "waiting") & Ticket.waiting_since.is_not(None)
    resolve_late = or_(paused & (Ticket.resolve_due < Ticket.waiting_since), ~paused & (Ticket.resolve_due < now))
    return Ticket.status.in_(("open", "waiting")) & or_(
        Ticket.first_response_at.is_(None) & (Ticket.response_due < now),
        Ticket.onsite_at.is_(None) & Ticket.resolved_at.is_(None) & (Ticket.onsite_due < now),
        Ticket.resolved_at.is_(None) & resolve_late,
    )


def ticket_messages(session: Session, ticket_id: int) -> Sequence[Message]:
    return session.scalars(select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)).all()


def message_attachments(session: Session, message_ids: Iterable[int]) -> Sequence[Attachment]:
    return session.scalars(
        select(Attachment).where(Attachment.message_id.in_(list(message_ids))).order_by(Attachment.id)
    ).all()


def customers(session: Session) -> Sequence[Customer]:
    return session.scalars(select(Customer).order_by(Customer.name)).all()


def customer_contacts(session: Session, customer_ids: Iterable[int]) -> dict[int, list[Contact]]:
    found: dict[int, list[Contact]] = {}
    for contact in session.scalars(
        select(Contact).where(Contact.customer_id.in_(list(customer_ids))).order_by(Contact.id)
    ):
        found.setdefault(contact.customer_id, []).append(contact)
    return found


def jobs(
    session: Session, kinds: Iterable[str] | None = None, channel: str | None = None, limit: int = 1000
) -> Sequence[Job]:
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if kinds is not None:
        query = query.where(Job.kind.in_(list(kinds)))
    if channel:
        query = query.where(Job.channel == channel)
    return session.scalars(query).all()


def quarantined(session: Session) -> Sequence[RawInput]:
    return session.scalars(
        select(RawInput).where(RawInput.status == "quarantined").order_by(RawInput.id)
    ).all()


def unprocessed_raw_ids(session: Session, older_than: datetime, limit: int = 100) -> list[int]:
    """Raw inputs stored but never processed (a crash between store and process): claimed with
    SKIP LOCKED so two processes never pick the same one."""
    query = (
        select(RawInput.id)
        .where(RawInput.status == "received", RawInput.received_at <= older_than)
        .order_by(RawInput.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def claim_due_jobs(
    session: Session, now: datetime, worker: str, lease: timedelta, limit: int = 50,
    channels: Iterable[str] | None = None,
) -> list[Job]:
    """Pick due jobs and mark them running for this worker in one transaction.

    On PostgreSQL the SELECT takes row locks with SKIP LOCKED, so concurrent workers each get different
    jobs; on SQLite the transaction began IMMEDIATE and holds the only write lock. A job whose lease ran
    out (its worker died) is due again.
    """
    due = (
        (Job.status == "pending") & (Job.due_at <= now)
        | (Job.status == "running") & (Job.locked_until < now)
    )
    query = select(Job.id).where(due).order_by(Job.due_at, Job.id).limit(limit)
    if channels is not None:
        query = query.where(Job.channel.in_(list(channels)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(
        update(Job)
        .where(Job.id.in_(ids))
        .values(status="running", locked_by=worker, locked_until=now + lease, attempts=Job.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return list(session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.due_at, Job.id)))


# --- scheduler (reminders, visits) ------------------------------------------------------------------


def scheduled_jobs(session: Session, kinds: Iterable[str], status: str | None = None,
                   limit: int = 1000) -> Sequence[Job]:
    """Jobs of these kinds, soonest first."""
    query = select(Job).where(Job.kind.in_(list(kinds))).order_by(Job.due_at, Job.id).limit(limit)
    if status:
        query = query.where(Job.status == status)
    return session.scalars(query).all()


def visits(session: Session, kind: str | None = None, limit: int = 1000) -> Sequence[Visit]:
    query = select(Visit).order_by(Visit.date, Visit.id).limit(limit)
    if kind:
        query = query.where(Visit.kind == kind)
    return session.scalars(query).all()


def ticket_numbers(session: Session, ids: Iterable[int | None]) -> dict[int, str | None]:
    wanted = [i for i in set(ids) if i is not None]
    if not wanted:
        return {}
    return dict(session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(wanted))).all())


def jobs_by_id(session: Session, ids: Iterable[int]) -> Sequence[Job]:
    wanted = list(ids)
    return session.scalars(select(Job).where(Job.id.in_(wanted))).all() if wanted else []


def job_statuses(session: Session, keys: Iterable[str]) -> dict[str, str]:
    """The status of each job named by its dedupe key."""
    wanted = list(set(keys))
    if not wanted:
        return {}
    return dict(session.execute(select(Job.dedupe_key, Job.status).where(Job.dedupe_key.in_(wanted))).all())


# --- hotline (Twilio) -------------------------------------------------------------------------------

def calls(session: Session, limit: int = 1000) -> Sequence[models.Call]:
    return session.scalars(select(models.Call).order_by(models.Call.id.desc()).limit(limit)).all()


def call_by_sid(session: Session, call_sid: str) -> models.Call | None:
    return session.scalar(select(models.Call).where(models.Call.call_sid == call_sid.strip()))


def call_events(session: Session, call_sid: str) -> Sequence[models.CallEvent]:
    return session.scalars(select(models.CallEvent).where(models.CallEvent.call_sid == call_sid)
                           .order_by(models.CallEvent.id)).all()


class CallTimes(Protocol):
    """What `answered_since` reads of a call: a models.Call, or the hotline's row of one being written."""

    id: int
    ticket_id: int | None
    from_number: str | None
    started_at: datetime


def answered_since(session: Session, calls: Iterable[CallTimes], answered: Iterable[str]) -> set[int]:
    """The ids of `calls` whose caller has been answered since: another call from the same number
    (calls.from_number) on the same ticket, begun after it (at the same instant: created after it), whose
    engineer's leg (dial_status) is one of `answered`. A colleague's answered call on the ticket does not
    count: it answered someone else. One query for all of `calls`, taken as given (not read again), so
    the hotline can ask about the call it is still writing."""
    wanted = [c for c in calls if c.ticket_id is not None and c.from_number is not None]
    if not wanted:
        return set()
    C = models.Call
    rows = session.execute(select(C.id, C.ticket_id, C.from_number, C.started_at).where(
        C.ticket_id.in_({c.ticket_id for c in wanted}), C.from_number.in_({c.from_number for c in wanted}),
        C.dial_status.in_(sorted(set(answered))))).all()
    taken: dict[tuple[int, str], list[tuple[datetime, int]]] = {}
    for row in rows:
        taken.setdefault((row.ticket_id, row.from_number), []).append((row.started_at, row.id))
    return {c.id for c in wanted
            if any(later > (c.started_at, c.id) for later in taken.get((c.ticket_id, c.from_number), ()))}


def call_jobs(session: Session, call_sid: str, ticket_id: int | None) -> list[Job]:
    """The jobs a call caused: they name it in their payload (callbacks, SMS, transcription)."""
    if ticket_id is None:
        return []
    found = session.scalars(select(Job).where(Job.ticket_id == ticket_id).order_by(Job.id))
    return [job for job in found if (job.payload or {}).get("call_sid") == call_sid]
