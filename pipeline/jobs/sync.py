"""Make the jobs and visits tables say what the plan owes: decided from a snapshot, written briefly.

The planner decides against rows it read (`Changes.jobs`, `Changes.visits`: rendering letters is most
of a pass) and writes the outcome afterwards in one short transaction (`Changes.write`), so the write
lock (SQLite) and the unique-key locks of new rows (PostgreSQL) are held for milliseconds, not for the
whole pass, and webhooks do not wait behind planning. What makes this safe is that every write is
guarded by what it may change, as checked in the write itself:

* a missing job is inserted under its unique dedupe_key (a second planner's insert does nothing);
* a pending or cancelled job whose time or recipient changed is moved and rendered again, if it still has
  the status the snapshot saw;
* a pending job the plan no longer owes is cancelled;
* a job that is running, sent or failed is never touched: that is what makes every reminder go out once
  however often, and in however many processes, planning runs.

A ticket that changed after the snapshot keeps a plan mark that no longer matches it, so the next pass
plans it again; a job sent in between is caught by the worker's own check that it is still owed. Rows
are written in key order so two planners lock them in the same order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pipeline.jobs import owed
from pipeline.store import models, writes

log = logging.getLogger(__name__)

PENDING, CANCELLED, PLANNED = "pending", "cancelled", "planned"
JOBS, VISITS = models.Job.__table__, models.Visit.__table__
TICKET_MARKS, CALL_MARKS = models.PlanMark.__table__, models.CallPlanMark.__table__
MOVED_FIELDS = ("due_at", "recipient", "subject", "body_text", "body_html", "language", "payload")
VISIT_FIELDS = ("kind", "mode", "customer_id", "ticket_id", "recipient", "date", "starts_at", "job_key")


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


@dataclass
class Changes:
    """What a planning pass writes, decided as of `now`; empty lists write nothing."""

    now: datetime
    new_jobs: list[dict[str, Any]] = field(default_factory=list)
    moved_jobs: list[dict[str, Any]] = field(default_factory=list)  # job_id, seen_status and MOVED_FIELDS
    cancelled_jobs: list[int] = field(default_factory=list)
    new_visits: list[dict[str, Any]] = field(default_factory=list)
    changed_visits: list[dict[str, Any]] = field(default_factory=list)  # visit_id plus VISIT_FIELDS
    cancelled_visits: list[int] = field(default_factory=list)
    ticket_marks: list[dict[str, Any]] = field(default_factory=list)  # ticket_id, ticket_updated_at
    call_marks: list[dict[str, Any]] = field(default_factory=list)  # call_id, call_updated_at

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__ if name != "now")

    # deciding -----------------------------------------------------------------------------------------
    def jobs(self, existing: Iterable[models.Job], drafts: Iterable[Draft], catch_up: timedelta) -> None:
        """Bring `existing` (every job of the planned scope) in line with `drafts`."""
        by_key = {job.dedupe_key: job for job in existing}
        for draft in sorted(drafts, key=lambda d: d.owed.key):
            job = by_key.pop(draft.owed.key, None)
            if draft.recipient is None or owed.is_stale(draft.owed, self.now, catch_up):
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
                self.new_jobs.append(values)
            else:
                self.moved_jobs.append({"job_id": job.id, "seen_status": job.status,
                                        **{name: values[name] for name in MOVED_FIELDS}})
        self.cancelled_jobs += [by_key[key].id for key in sorted(by_key) if by_key[key].status == PENDING]

    def visits(self, existing: Iterable[models.Visit], drafts: Iterable[VisitDraft],
               sent_keys: set[str]) -> dict[str, models.Visit]:
        """Insert or move the wanted visits, cancel planned ones no longer wanted (unless already done);
        return the wanted visits as they will be, by key (unsaved copies for new or changed ones: letters
        need their fields, never their ids)."""
        by_key = {visit.dedupe_key: visit for visit in existing}
        wanted: dict[str, models.Visit] = {}
        for draft in sorted(drafts, key=lambda d: d.visit.key):
            visit, row = draft.visit, by_key.pop(draft.visit.key, None)
            values = dict(kind=visit.kind, mode=visit.mode, customer_id=draft.customer_id, ticket_id=draft.ticket_id,
                          recipient=draft.recipient, date=visit.date, starts_at=visit.starts_at, job_key=visit.job_key)
            if row is None:
                self.new_visits.append(dict(values, dedupe_key=visit.key, status=PLANNED, created_at=self.now,
                                            updated_at=self.now))
            elif row.status != PLANNED or any(getattr(row, name) != value for name, value in values.items()):
                self.changed_visits.append(dict(values, visit_id=row.id, updated_at=self.now))
            else:
                wanted[visit.key] = row
                continue
            wanted[visit.key] = models.Visit(**values, dedupe_key=visit.key, status=PLANNED)
        self.cancelled_visits += [row.id for key, row in sorted(by_key.items())
                                  if row.status == PLANNED and row.job_key not in sent_keys]
        return wanted

    def mark(self, tickets: Sequence[models.Ticket] = (), calls: Sequence[models.Call] = ()) -> None:
        """Each ticket and call as it was planned: one changed since gets planned again."""
        self.ticket_marks += [{"ticket_id": t.id, "ticket_updated_at": t.updated_at} for t in tickets]
        self.call_marks += [{"call_id": c.id, "call_updated_at": c.updated_at} for c in calls]

    # writing ------------------------------------------------------------------------------------------
    def write(self, session: Session) -> int:
        """Write it all (the caller's transaction); return how many jobs were added."""
        connection = session.connection()
        dialect = connection.dialect.name
        if self.changed_visits:
            connection.execute(_VISIT_CHANGE, self.changed_visits)
        if self.cancelled_visits:
            connection.execute(_VISIT_CANCEL, [{"visit_id": i, "updated_at": self.now} for i in self.cancelled_visits])
        writes.insert_new(session, VISITS, self.new_visits)
        if self.moved_jobs:
            connection.execute(_JOB_MOVE, self.moved_jobs)
        if self.cancelled_jobs:
            connection.execute(_JOB_CANCEL, [{"job_id": i} for i in self.cancelled_jobs])
        added = writes.insert_new(session, JOBS, self.new_jobs)
        for table, rows in ((TICKET_MARKS, self.ticket_marks), (CALL_MARKS, self.call_marks)):
            if rows:
                connection.execute(_upsert_marks(dialect, table), rows)
        return added


# Core statements, built once: each row's guard is part of its own UPDATE. A job is moved or revived only
# from the status the snapshot saw (pending, or cancelled): one cancelled since, by a reply or an answered
# call, stays cancelled, and one sent since is never touched.
_JOB_MOVE = (update(JOBS).where(JOBS.c.id == bindparam("job_id"), JOBS.c.status == bindparam("seen_status"))
             .values(status=PENDING, last_error=None, **{name: bindparam(name) for name in MOVED_FIELDS}))
_JOB_CANCEL = (update(JOBS).where(JOBS.c.id == bindparam("job_id"), JOBS.c.status == PENDING)
               .values(status=CANCELLED, last_error="no longer owed"))
_VISIT_CHANGE = (update(VISITS).where(VISITS.c.id == bindparam("visit_id"))
                 .values(status=PLANNED, updated_at=bindparam("updated_at"),
                         **{name: bindparam(name) for name in VISIT_FIELDS}))
_VISIT_CANCEL = (update(VISITS).where(VISITS.c.id == bindparam("visit_id"), VISITS.c.status == PLANNED)
                 .values(status=CANCELLED, updated_at=bindparam("updated_at")))
def _upsert_marks(dialect: str, table: Any) -> Any:
    """INSERT ... ON CONFLICT (its key) DO UPDATE SET the version planned."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    key, version = (column.name for column in table.columns)
    statement = insert(table)
    return statement.on_conflict_do_update(index_elements=[key], set_={version: statement.excluded[version]})


def _revise(job: models.Job, draft: Draft) -> bool:
    """A cancelled job the plan owes again is revived; a pending one is moved when its time or recipient
    changed, unless it was tried already (then the worker's backoff decides when it runs again)."""
    if job.status == CANCELLED:
        return True
    return job.status == PENDING and not job.attempts and (
        job.due_at != draft.owed.due_at or job.recipient != draft.recipient)


def sent_keys(jobs: Sequence[models.Job]) -> set[str]:
    return {job.dedupe_key for job in jobs if job.dedupe_key and job.status in ("sent", "running")}

