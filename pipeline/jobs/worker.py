"""The job worker: claim due jobs, run each by its kind, record the outcome.

A job is claimed (status running, a lease, attempts + 1) in one short transaction and finished in another,
so a worker that dies mid-job leaves it to be claimed again when its lease runs out. Failures retry with
exponential backoff; a permanent failure (or too many attempts) marks the job failed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update

from pipeline.jobs import mailer, sms
from pipeline.runtime import Runtime
from pipeline.store import db, models, queries

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
Handler = Callable[[Runtime, models.Job, datetime], str | None]
HANDLERS: dict[str, Handler] = {}


def handles(*kinds: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of these kinds."""

    def register(handler: Handler) -> Handler:
        for kind in kinds:
            HANDLERS[kind] = handler
        return handler

    return register


class Obsolete(Exception):
    """The job's reason went away before it ran (the deadline was met, the ticket reopened): cancel it."""


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def send_email(rt: Runtime, job: models.Job, now: datetime) -> str | None:
    """Any e-mail job: through the relay, or into the outbox folder when no relay is set."""
    message = mailer.build_message(job, rt.settings.service_address)
    if rt.settings.relay_url:
        relay = mailer.Relay.from_url(rt.settings.relay_url)
        relay.send(message, rt.settings.service_address, [job.recipient or ""])
        return f"relayed to {relay.host}"
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{job.id:08d}-{job.kind}-{job.message_id or ''}")[:150]
    path = mailer.write_eml(rt.settings.outbox_dir, name, message)
    return f"written to {path}"


# A job without a handler of its own kind goes out by its channel.
CHANNELS: dict[str, Handler] = {"email": send_email, "sms": sms.send_sms, "call": sms.place_call}


@dataclass(frozen=True)
class Outcome:
    id: int
    kind: str
    ticket_id: int | None
    recipient: str | None
    status: str
    detail: str | None

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "ticket_id": self.ticket_id, "recipient": self.recipient,
                "status": self.status, "detail": self.detail}


def _finish(rt: Runtime, job: models.Job, **values: object) -> None:
    with db.transaction(rt.sessions) as session:
        session.execute(
            update(models.Job)
            .where(models.Job.id == job.id, models.Job.locked_by == rt.worker_id)
            .values(locked_by=None, locked_until=None, **values)
        )


def run_job(rt: Runtime, job: models.Job, now: datetime) -> Outcome:
    handler = HANDLERS.get(job.kind) or CHANNELS.get(job.channel)
    try:
        if handler is None:
            raise mailer.PermanentFailure(f"no handler for job kind {job.kind!r}")
        detail = handler(rt, job, now)
    except Obsolete as exc:
        _finish(rt, job, status="cancelled", last_error=str(exc)[:2000])
        return Outcome(job.id, job.kind, job.ticket_id, job.recipient, "cancelled", str(exc))
    except mailer.PermanentFailure as exc:
        _finish(rt, job, status="failed", last_error=str(exc)[:2000])
        return Outcome(job.id, job.kind, job.ticket_id, job.recipient, "failed", str(exc))
    except Exception as exc:  # the per-item guard: record, back off, go on
        if not isinstance(exc, mailer.TransientFailure):
            log.exception("job %s (%s) failed", job.id, job.kind)
        final = job.attempts >= MAX_ATTEMPTS
        _finish(rt, job, status="failed" if final else "pending", last_error=f"{type(exc).__name__}: {exc}"[:2000],
                due_at=now + backoff(job.attempts))
        return Outcome(job.id, job.kind, job.ticket_id, job.recipient, "failed" if final else "retry", str(exc))
    _finish(rt, job, status="sent", sent_at=now, last_error=None)
    return Outcome(job.id, job.kind, job.ticket_id, job.recipient, "sent", detail)


def run_due(rt: Runtime, now: datetime | None = None, limit: int = 100,
            channels: list[str] | None = None) -> list[Outcome]:
    """Run every job due at `now`, in batches of `limit`. Without `now` the clock is read again for each
    batch: a batch's lease must start when it is claimed, not when the pass began (a slow earlier batch would
    otherwise hand out leases already near their end, and another worker could take the jobs again)."""
    fixed = now
    lease = timedelta(seconds=rt.settings.job_lease_s)
    outcomes: list[Outcome] = []
    while True:
        now = fixed or rt.now()
        with db.transaction(rt.sessions) as session:
            claimed = queries.claim_due_jobs(session, now, rt.worker_id, lease, limit, channels)
        if not claimed:
            return outcomes
        with mailer.sessions():  # one relay session for the batch, not one per message
            outcomes.extend(run_job(rt, job, now) for job in claimed)
        if len(claimed) < limit:
            return outcomes
