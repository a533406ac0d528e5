"""`intake jobs run-due [--now T]`: plan what is owed at that instant, then run everything due (cron, tests).

Prints what ran: kind, ticket, due_at, recipient, channel, and the outcome (sent, retry, failed, cancelled).

`intake serve` does the same every scheduler_interval_s; running this beside it is safe, since jobs are
claimed in one statement (FOR UPDATE SKIP LOCKED on PostgreSQL) and planned under unique keys.
"""

from __future__ import annotations

import argparse

from pipeline.cli import common, output
from pipeline.jobs import scheduler, worker
from pipeline.store import queries, views

COLUMNS = ("id", "kind", "ticket", "due_at", "recipient", "channel", "status", "detail")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("jobs", help="the scheduler: reminders, escalations, visits, outgoing mail")
    verbs = common.add_subcommands(parser)
    run = output.add_json_option(verbs.add_parser("run-due", help="plan, then run every job due at --now"))
    run.add_argument("--now", help="the instant to run at (ISO 8601; default: the clock)")
    run.set_defaults(func=run_due)


def run_due(args: argparse.Namespace) -> int:
    with common.runtime() as rt:
        now = common.parse_time(args.now, rt.settings.zone) or rt.now()
        rt.clock = lambda: now
        scheduler.plan(rt, now)
        outcomes = worker.run_due(rt, now)
        with rt.sessions() as session:
            jobs = {job.id: job for job in queries.jobs_by_id(session, [o.id for o in outcomes])}
            numbers = queries.ticket_numbers(session, (job.ticket_id for job in jobs.values()))
            rows = [dict(views.reminder_row(jobs[o.id], numbers, rt.settings.timezone), status=o.status,
                         detail=o.detail) for o in outcomes]
    output.emit(rows, COLUMNS, args.json)
    return 1 if any(o.status == "failed" for o in outcomes) else 0
