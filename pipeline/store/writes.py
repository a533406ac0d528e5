"""The statements of the ingest hot path, built once as Core statements with bound parameters.

Each runs on the session's connection, inside the caller's transaction. Building an ORM statement per
message costs several times more than executing a cached Core one (bench/ingest.py), and ingest runs
these a few times per message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pipeline.store import models

RAW = models.RawInput.__table__
TICKETS = models.Ticket.__table__
MESSAGES = models.Message.__table__
JOBS = models.Job.__table__
CUSTOMERS = models.Customer.__table__
CONTACTS = models.Contact.__table__

_INSERT_RAW = {
    postgres: insert(RAW).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(RAW.c.id, RAW.c.dedupe_key)
    for postgres, insert in ((False, sqlite_insert), (True, pg_insert))
}
_MARK_PROCESSED = (
    RAW.update()
    .where(RAW.c.id == bindparam("raw_id"))
    .values(status="processed", result=bindparam("result"), reason=bindparam("reason"),
            ticket_id=bindparam("ticket_id"), processed_at=bindparam("processed_at"))
)
_SET_NUMBER = TICKETS.update().where(TICKETS.c.id == bindparam("ticket_id")).values(number=bindparam("number"))
_ACKS_SINCE = select(func.count(JOBS.c.id)).where(
    JOBS.c.kind == "ack", JOBS.c.recipient == bindparam("recipient"), JOBS.c.created_at >= bindparam("since")
)



def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_raws(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert raw inputs in one statement; {dedupe key: id} of those inserted (a key already stored,
    e.g. by a concurrent writer, is skipped by ON CONFLICT DO NOTHING and missing here)."""
    if not rows:
        return {}
    result = session.connection().execute(_INSERT_RAW[_is_postgres(session)], rows)
    return {key: raw_id for raw_id, key in result}


_NEW_ROWS: dict[tuple[bool, str], Any] = {}


def insert_new(session: Session, table: Any, rows: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, all rows in one statement (built once per dialect and
    table); how many went in. Jobs and visits are keyed so that planning, or a webhook retried, adds once."""
    if not rows:
        return 0
    key = (_is_postgres(session), table.name)
    statement = _NEW_ROWS.get(key)
    if statement is None:
        insert = pg_insert if key[0] else sqlite_insert
        statement = _NEW_ROWS[key] = (
            insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id))
    return len(session.connection().execute(statement, rows).all())


def raws_by_dedupe_keys(session: Session, keys: list[str]) -> dict[str, tuple[int, str, int | None, str | None]]:
    """{dedupe key: (id, status, ticket id, ticket number)} of the raw inputs already stored under these keys."""
    if not keys:
        return {}
    rows = session.connection().execute(
        select(RAW.c.dedupe_key, RAW.c.id, RAW.c.status, RAW.c.ticket_id, TICKETS.c.number)
        .select_from(RAW.outerjoin(TICKETS, TICKETS.c.id == RAW.c.ticket_id))
        .where(RAW.c.dedupe_key.in_(bindparam("keys", expanding=True))), {"keys": sorted(set(keys))}).all()
    return {key: (raw_id, status, ticket_id, number) for key, raw_id, status, ticket_id, number in rows}


def insert_tickets(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert many tickets in one statement; their ids in the order of `rows`."""
    result = session.connection().execute(
        TICKETS.insert().returning(TICKETS.c.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in result]


def set_ticket_numbers(session: Session, numbers: list[tuple[int, str | None]]) -> None:
    session.connection().execute(_SET_NUMBER, [{"ticket_id": i, "number": n} for i, n in numbers])


def insert_messages(session: Session, rows: list[dict[str, Any]], returning: bool) -> list[int]:
    """Insert many messages; their ids (in order) only when asked, which costs a little more."""
    if not rows:
        return []
    if not returning:
        session.connection().execute(MESSAGES.insert(), rows)
        return []
    result = session.connection().execute(
        MESSAGES.insert().returning(MESSAGES.c.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in result]


def insert_attachments(session: Session, rows: list[dict[str, Any]]) -> None:
    session.connection().execute(models.Attachment.__table__.insert(), rows)


def insert_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    session.connection().execute(JOBS.insert(), rows)


def mark_processed(session: Session, rows: list[dict[str, Any]]) -> None:
    """Each row: raw_id, result, reason, ticket_id, processed_at."""
    session.connection().execute(_MARK_PROCESSED, rows)


def raw_statuses(session: Session, raw_ids: list[int]) -> dict[int, str]:
    """Status per raw input; on PostgreSQL the rows stay locked until the transaction ends."""
    statement = select(RAW.c.id, RAW.c.status).where(RAW.c.id.in_(bindparam("ids", expanding=True)))
    if _is_postgres(session):
        statement = statement.with_for_update()
    return dict(session.connection().execute(statement, {"ids": raw_ids}).all())


def acks_since(session: Session, recipient: str, since: datetime) -> int:
    return session.connection().execute(_ACKS_SINCE, {"recipient": recipient, "since": since}).scalar() or 0


def customers_for_addresses(session: Session, addresses: set[str]) -> dict[str, Row[Any] | None]:
    """customer_for_address for many addresses, in one query."""
    addresses = {a.lower() for a in addresses if a}
    if not addresses:
        return {}
    domains = {a.rpartition("@")[2] for a in addresses}
    rows = session.connection().execute(
        select(CUSTOMERS, CONTACTS.c.kind, CONTACTS.c.value)
        .join(CONTACTS, CONTACTS.c.customer_id == CUSTOMERS.c.id)
        .where(or_((CONTACTS.c.kind == "email") & CONTACTS.c.value.in_(bindparam("addresses", expanding=True)),
                   (CONTACTS.c.kind == "domain") & CONTACTS.c.value.in_(bindparam("domains", expanding=True)))),
        {"addresses": sorted(addresses), "domains": sorted(domains)},
    ).all()
    by_email = {row.value: row for row in rows if row.kind == "email"}
    by_domain = {row.value: row for row in rows if row.kind == "domain"}
    return {a: by_email.get(a) or by_domain.get(a.rpartition("@")[2]) for a in addresses}


def acks_since_many(session: Session, recipients: set[str], since: datetime) -> dict[str, int]:
    """acks_since for many recipients, in one query."""
    if not recipients:
        return {}
    rows = session.connection().execute(
        select(JOBS.c.recipient, func.count(JOBS.c.id))
        .where(JOBS.c.kind == "ack", JOBS.c.recipient.in_(bindparam("recipients", expanding=True)),
               JOBS.c.created_at >= bindparam("since"))
        .group_by(JOBS.c.recipient),
        {"recipients": sorted(recipients), "since": since},
    ).all()
    counts = dict.fromkeys(recipients, 0)
    counts.update({recipient: count for recipient, count in rows})
    return counts


def customer_for_address(session: Session, address: str) -> Row[Any] | None:
    """The customer row an address belongs to: the address itself first, then its domain."""
    return customers_for_addresses(session, {address}).get(address.lower())
