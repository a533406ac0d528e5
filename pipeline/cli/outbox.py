"""`intake outbox list|send`: outgoing mail and what became of it."""

from __future__ import annotations

import argparse

from pipeline.cli import common, output
from pipeline.jobs import worker
from pipeline.store import queries, views

COLUMNS = ("id", "kind", "ticket", "to", "language", "status", "due_at", "subject")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("outbox", help="outgoing mail")
    verbs = common.add_subcommands(parser)
    output.add_json_option(verbs.add_parser("list", help="list outgoing mail")).set_defaults(func=list_outbox)
    output.add_json_option(verbs.add_parser("send", help="send what is due now")).set_defaults(func=send)


def list_outbox(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        jobs = queries.jobs(session, channel="email")
        numbers = {t.id: t.number for t in queries.tickets(session, limit=100000)}
        zone = rt.settings.timezone
        # in the configured zone, as `reminders list` shows the same jobs (the store keeps them in UTC)
        rows = [dict(views.job_row(job, numbers), due_at=views.local(job.due_at, zone),
                     sent_at=views.local(job.sent_at, zone)) for job in jobs]
    output.emit(rows, COLUMNS, args.json)
    return 0


def send(args: argparse.Namespace) -> int:
    with common.runtime() as rt:
        outcomes = worker.run_due(rt, channels=["email"])
    output.emit([o.as_dict() for o in outcomes], ("id", "kind", "recipient", "status", "detail"), args.json)
    return 1 if any(o.status == "failed" for o in outcomes) else 0
