"""`intake reminders list`: what the scheduler will send or has sent, soonest first.

Callback reminders and notices, SLA warnings and escalations, escalations on request, visit reminders,
invitations and surveys: one row per job, with its recipient, channel and status.
"""

from __future__ import annotations

import argparse

from pipeline.cli import common, output
from pipeline.jobs import drafts
from pipeline.store import queries, views

COLUMNS = ("id", "kind", "ticket", "due_at", "recipient", "channel", "status")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("reminders", help="scheduled reminders, escalations, invitations, surveys")
    verbs = common.add_subcommands(parser)
    listing = output.add_json_option(verbs.add_parser("list", help="list them, soonest first"))
    listing.add_argument("--status", choices=("pending", "running", "sent", "failed", "cancelled"))
    listing.add_argument("--kind", choices=drafts.KINDS)
    listing.set_defaults(func=list_reminders)


def list_reminders(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        jobs = queries.scheduled_jobs(session, [args.kind] if args.kind else drafts.KINDS, status=args.status)
        numbers = queries.ticket_numbers(session, (job.ticket_id for job in jobs))
        rows = [views.reminder_row(job, numbers, rt.settings.timezone) for job in jobs]
    output.emit(rows, COLUMNS, args.json)
    return 0
