"""A call's row and its events on the hot path of every webhook: prebuilt Core statements, no unit of work.

Every Twilio request inserts one event and reads and updates one call. Through the ORM that costs more
than the statements themselves, so the call is read into a plain `CallRow` (the columns of models.Call
as attributes), the service changes its attributes, and `save` writes the columns that changed.
Tickets, messages and jobs, written far less often, keep the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Insert, Select, Update, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pipeline.store import models

CALLS = models.Call.__table__
EVENTS = models.CallEvent.__table__
COLUMNS = tuple(column.key for column in CALLS.columns)


class CallRow(SimpleNamespace):
    """One row of `calls`, with the columns of models.Call as attributes."""


@dataclass(frozen=True)
class Statements:
    insert_event: Insert
    insert_call: Insert
    select_call: Select[Any]


@cache
def statements(dialect: str) -> Statements:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    select_call = select(CALLS).where(CALLS.c.call_sid == bindparam("sid"))
    if dialect == "postgresql":
        select_call = select_call.with_for_update()  # concurrent requests for one call queue here
    return Statements(
        insert_event=insert(EVENTS).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(EVENTS.c.id),
        insert_call=insert(CALLS).on_conflict_do_nothing(index_elements=["call_sid"]),
        select_call=select_call,
    )


def _statements(session: Session) -> Statements:
    return statements(session.get_bind().dialect.name)


def insert_event(session: Session, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING: False when the event was stored before."""
    return session.connection().execute(_statements(session).insert_event, values).first() is not None


def load(session: Session, call_sid: str, now: datetime) -> tuple[CallRow, dict[str, Any]]:
    """The call (created on first sight, by whichever request comes first), locked on PostgreSQL, and its
    columns as read, for `save`."""
    connection, prepared = session.connection(), _statements(session)
    row = connection.execute(prepared.select_call, {"sid": call_sid}).mappings().first()
    if row is None:  # two requests may race to create it: the conflict clause lets both through
        connection.execute(prepared.insert_call, dict(
            call_sid=call_sid, status="ringing", last_sequence=-1, dial_sequence=-1, language_chosen=False,
            opened_ticket=False, started_at=now, created_at=now, updated_at=now))
        row = connection.execute(prepared.select_call, {"sid": call_sid}).mappings().first()
    assert row is not None  # inserted or found just now
    original = dict(row)
    return CallRow(**original), original


@cache
def _update(columns: tuple[str, ...]) -> Update:
    """UPDATE calls SET <these columns> WHERE id: one prebuilt statement per set of columns (a handful)."""
    values = {key: bindparam(f"new_{key}", type_=CALLS.c[key].type) for key in columns}
    return update(CALLS).where(CALLS.c.id == bindparam("call_id")).values(**values)


def save(session: Session, call: CallRow, original: dict[str, Any]) -> None:
    """Write the columns that changed since `load`."""
    changed = {key: getattr(call, key) for key in COLUMNS if getattr(call, key) != original[key]}
    if changed:
        parameters = {f"new_{key}": value for key, value in changed.items()}
        session.connection().execute(_update(tuple(changed)), {"call_id": call.id, **parameters})
        original.update(changed)
