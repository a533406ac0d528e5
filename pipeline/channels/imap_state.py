"""Where each watched mailbox stands, in the store: UIDVALIDITY and the last UID taken (the cursor), and what
`intake imap status` shows (connected, idle, last error, when we last heard from the server).

Every write names the lease holder, so a poller that lost its lease (it stalled, another process took
over) can no longer move the cursor or overwrite the status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from pipeline.channels import lease
from pipeline.store import db
from pipeline.store.models import MailboxState

COLUMNS = ("name", "connected", "idle", "uidvalidity", "last_uid", "last_error", "last_seen_at")
UNSET: Any = object()


@dataclass(frozen=True)
class Cursor:
    uidvalidity: int | None
    last_uid: int


def cursor(sessions: sessionmaker[Session], name: str) -> Cursor:
    with sessions() as session:
        row = session.execute(select(MailboxState.uidvalidity, MailboxState.last_uid)
                              .where(MailboxState.name == name)).first()
    return Cursor(row.uidvalidity, row.last_uid or 0) if row else Cursor(None, 0)


def advance(sessions: sessionmaker[Session], name: str, holder: str, uidvalidity: int, last_uid: int,
            now: datetime) -> bool:
    """Move the cursor; False when `holder` no longer holds the mailbox."""
    with db.transaction(sessions) as session:
        moved = session.execute(
            update(MailboxState)
            .where(MailboxState.name == name, MailboxState.holder == holder)
            .values(uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now)
        )
        return moved.rowcount == 1


def report(sessions: sessionmaker[Session], name: str, holder: str, now: datetime, *,
           connected: bool = UNSET, idle: bool = UNSET, last_error: str | None = UNSET,
           last_seen_at: datetime | None = UNSET) -> None:
    """Record what the poller sees; fields left out keep their value."""
    values: dict[str, Any] = {"updated_at": now}
    for key, value in (("connected", connected), ("idle", idle), ("last_error", last_error),
                       ("last_seen_at", last_seen_at)):
        if value is not UNSET:
            values[key] = value[:2000] if key == "last_error" and value else value
    with db.transaction(sessions) as session:
        session.execute(update(MailboxState)
                        .where(MailboxState.name == name, MailboxState.holder == holder).values(**values))


def rows(session: Session, names: list[str], now: datetime) -> list[dict[str, Any]]:
    """One row per configured mailbox (and any other the store knows), as `intake imap status` prints it.

    `connected` and `idle` count only while the holder's lease is live: a dead holder cannot clear them.
    """
    stored = {row.name: row for row in session.scalars(select(MailboxState).order_by(MailboxState.name))}
    result = []
    for name in [*names, *(n for n in stored if n not in names)]:
        row = stored.get(name)
        live = row is not None and lease.Holder(row.holder, row.lease_until).is_live(now)
        result.append({
            "name": name,
            "connected": bool(live and row.connected),
            "idle": bool(live and row.idle),
            "uidvalidity": row.uidvalidity if row else None,
            "last_uid": row.last_uid if row else 0,
            "last_error": row.last_error if row else None,
            "last_seen_at": row.last_seen_at if row else None,
        })
    return result
