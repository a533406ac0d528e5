"""Make the jobs and visits tables say what the plan owes, inside the caller's transaction.

A job that is missing is inserted (its key is the jobs' unique dedupe_key, so a second planner's insert
does nothing); a pending or cancelled job whose time or recipient changed is moved and rendered again; a
pending job the plan no longer owes is cancelled. A job that is running, sent or failed is never touched:
that is what makes every reminder go out once however often, and in however many processes, planning
runs. Rows are written in key order so two planners lock them in the same order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pipeline.jobs import owed
from pipeline.store import models

log = logging.getLogger(__name__)

PENDING, CANCELLED, PLANNED = "pending", "cancelled", "planned"


@dataclass(frozen=True)
class Draft:
    """A job the plan owes, with its recipient resolved; `write` renders the row's content when needed."""

    owed: owed.Owed
    recipient: str | None
    write: Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class VisitDraft:
    visit: owed.Visit
    customer_id: int | None
    ticket_id: int | None
    recipient: str | None


_INSERTS: dict[tuple[str, str], Any] = {}


def insert_new(session: Session, model: type[models.Base], rows: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, all rows in one statement; how many went in.

    A Core statement built once per dialect and table: building an ORM insert per row costs more than
    rendering its letter.
    """
    if not rows:
        return 0
    dialect, table = session.get_bind().dialect.name, model.__table__
    statement = _INSERTS.get((dialect, table.name))
    if statement is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = _INSERTS[(dialect, table.name)] = (
            insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id))
    return len(session.execute(statement, rows).all())


def sync_jobs(session: Session, existing: Iterable[models.Job], drafts: Iterable[Draft], now: datetime,
              catch_up: timedelta) -> int:
    """Bring `existing` (every job of the planned scope) in line with `drafts`; return how many were added."""
    by_key = {job.dedupe_key: job for job in existing}
    new: list[dict[str, Any]] = []
    for draft in sorted(drafts, key=lambda d: d.owed.key):
        job = by_key.pop(draft.owed.key, None)
        if draft.recipient is None or owed.is_stale(draft.owed, now, catch_up):
            if job is not None and job.status == PENDING:
                by_key[draft.owed.key] = job  # no longer sendable: cancel below
            continue
        if job is not None and not _revise(job, draft):
            continue
        try:
            values = draft.write()
        except Exception:  # the per-item guard: one letter that cannot be written stops no other
            log.exception("cannot write job %s", draft.owed.key)
            continue
        if job is None:
            new.append(values)
        else:
            session.execute(
                update(models.Job)
                .where(models.Job.id == job.id, models.Job.status.in_((PENDING, CANCELLED)))
                .values(status=PENDING, due_at=values["due_at"], recipient=values["recipient"],
                        subject=values["subject"], body_text=values["body_text"], body_html=values["body_html"],
                        language=values["language"], payload=values["payload"], last_error=None)
            )
    for key in sorted(k for k, job in by_key.items() if job.status == PENDING):
        session.execute(
            update(models.Job)
            .where(models.Job.id == by_key[key].id, models.Job.status == PENDING)
            .values(status=CANCELLED, last_error="no longer owed")
        )
    return insert_new(session, models.Job, new)


def _revise(job: models.Job, draft: Draft) -> bool:
    """A cancelled job the plan owes again is revived; a pending one is moved when its time or recipient
    changed, unless it was tried already (then the worker's backoff decides when it runs again)."""
    if job.status == CANCELLED:
        return True
    return job.status == PENDING and not job.attempts and (
        job.due_at != draft.owed.due_at or job.recipient != draft.recipient)


def sync_visits(session: Session, existing: Iterable[models.Visit], drafts: Iterable[VisitDraft],
                sent_keys: set[str], now: datetime) -> dict[str, models.Visit]:
    """Insert or move the wanted visits, cancel planned ones no longer wanted (unless already done);
    return the wanted visits' rows by key."""
    by_key = {visit.dedupe_key: visit for visit in existing}
    wanted = sorted(drafts, key=lambda d: d.visit.key)
    new = []
    for draft in wanted:
        visit, row = draft.visit, by_key.pop(draft.visit.key, None)
        values = dict(kind=visit.kind, mode=visit.mode, customer_id=draft.customer_id, ticket_id=draft.ticket_id,
                      recipient=draft.recipient, date=visit.date, starts_at=visit.starts_at, job_key=visit.job_key,
                      status=PLANNED)
        if row is None:
            new.append(dict(values, dedupe_key=visit.key, created_at=now, updated_at=now))
        elif any(getattr(row, name) != value for name, value in values.items()):
            session.execute(update(models.Visit).where(models.Visit.id == row.id).values(**values, updated_at=now))
    for key in sorted(by_key):
        row = by_key[key]
        if row.status == PLANNED and row.job_key not in sent_keys:
            session.execute(update(models.Visit).where(models.Visit.id == row.id)
                            .values(status=CANCELLED, updated_at=now))
    insert_new(session, models.Visit, new)
    keys = [draft.visit.key for draft in wanted]
    if not keys:
        return {}
    rows = session.scalars(select(models.Visit).where(models.Visit.dedupe_key.in_(keys))
                           .execution_options(populate_existing=True))
    return {row.dedupe_key: row for row in rows}


def sent_keys(jobs: Sequence[models.Job]) -> set[str]:
    return {job.dedupe_key for job in jobs if job.dedupe_key and job.status in ("sent", "running")}
