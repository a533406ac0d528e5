"""The mailbox lease: one process at a time watches a given mailbox.

A row of mailbox_states names its holder and when its lease runs out. Taking or renewing the lease is one
conditional UPDATE (the row is free, already ours, or its lease has run out), which is atomic on SQLite
(the transaction began IMMEDIATE: one writer) and on PostgreSQL (an UPDATE re-checks its WHERE on the row
it locked, so of two concurrent takers exactly one matches). The holder renews well before the lease runs
out; a holder that died stops renewing and another process takes over once `lease_until` has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from pipeline.store import db
from pipeline.store.models import MailboxState


@dataclass(frozen=True)
class Holder:
    """Who holds a mailbox, as the store says."""

    holder: str | None
    lease_until: datetime | None

    def is_live(self, now: datetime) -> bool:
        return self.holder is not None and self.lease_until is not None and self.lease_until > now


def ensure_row(session: Session, name: str) -> None:
    """The mailbox's row, created once; concurrent creators do not collide."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(MailboxState).values(name=name, last_uid=0, connected=False, idle=False)
                    .on_conflict_do_nothing(index_elements=["name"]))


def hold(sessions: sessionmaker[Session], name: str, holder: str, now: datetime, lease: timedelta) -> bool:
    """Take the lease, or renew it: True when `holder` now holds it until now + lease."""
    with db.transaction(sessions) as session:
        ensure_row(session, name)
        taken = session.execute(
            update(MailboxState)
            .where(
                MailboxState.name == name,
                or_(MailboxState.holder.is_(None), MailboxState.holder == holder,
                    MailboxState.lease_until.is_(None), MailboxState.lease_until < now),
            )
            .values(holder=holder, lease_until=now + lease, updated_at=now)
        )
        return taken.rowcount == 1


def release(sessions: sessionmaker[Session], name: str, holder: str, now: datetime) -> None:
    """Give the lease up (a clean stop), so another process need not wait for it to run out."""
    with db.transaction(sessions) as session:
        session.execute(
            update(MailboxState)
            .where(MailboxState.name == name, MailboxState.holder == holder)
            .values(holder=None, lease_until=None, connected=False, idle=False, updated_at=now)
        )


def current(session: Session, name: str) -> Holder:
    row = session.execute(select(MailboxState.holder, MailboxState.lease_until)
                          .where(MailboxState.name == name)).first()
    return Holder(row.holder, row.lease_until) if row else Holder(None, None)
