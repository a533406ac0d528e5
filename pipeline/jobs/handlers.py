"""Running the scheduler's jobs: check that a job is still owed, then send it on its channel.

Registered with pipeline.jobs.worker for every kind the planner creates. A job whose reason went away
between planning and sending (the deadline was met, the ticket was reopened) is cancelled instead of
sent. Escalations are rendered again so they say how late they are now. Then the job goes out on its
channel (pipeline.jobs.worker.CHANNELS): e-mail through the relay or the outbox (the mailer attaches a
visit invitation's .ics), SMS through Twilio (pipeline.jobs.sms). The hotline's own callback jobs
(pipeline.calls.followups) share two of these kinds; they carry no planner keys and are sent as they are.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from pipeline.jobs import drafts, mailer, worker
from pipeline.runtime import Runtime
from pipeline.store import db, models

KINDS = drafts.KINDS


@worker.handles(*KINDS)
def deliver(rt: Runtime, job: models.Job, now: datetime) -> str | None:
    drafter = drafts.Drafter(rt, now)
    content = None
    with rt.sessions() as session:
        why = drafter.still_owed(session, job)
        if why:
            raise worker.Obsolete(why)
        if job.kind in drafts.RERENDERED and job.channel == "email":
            content = drafter.rerender(session, job)
    if content:
        with db.transaction(rt.sessions) as session:
            session.execute(update(models.Job).where(models.Job.id == job.id).values(**content))
        for name, value in content.items():
            setattr(job, name, value)
    send = worker.CHANNELS.get(job.channel)
    if send is None:
        raise mailer.PermanentFailure(f"no way to send a job on channel {job.channel!r}")
    return send(rt, job, now)
