"""`intake visits list`: revisits after repairs, periodic inspections and trainings, monthly surveys.

A visit is planned until the day's job goes out (done), or cancelled when its reason went away (the
ticket was reopened, the contract changed).
"""

from __future__ import annotations

import argparse

from pipeline.cli import common, output
from pipeline.store import queries, views

COLUMNS = ("id", "kind", "mode", "customer", "ticket", "date", "status")
KINDS = ("revisit", "inspection", "training", "survey")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("visits", help="follow-up visits, inspections, trainings, surveys")
    verbs = common.add_subcommands(parser)
    listing = output.add_json_option(verbs.add_parser("list", help="list them by date"))
    listing.add_argument("--kind", choices=KINDS)
    listing.set_defaults(func=list_visits)


def list_visits(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        visits = queries.visits(session, kind=args.kind)
        numbers = queries.ticket_numbers(session, (v.ticket_id for v in visits))
        statuses = queries.job_statuses(session, (v.job_key for v in visits))
        customers = {c.id: c for c in queries.customers(session)}
        rows = [views.visit_row(v, customers.get(v.customer_id or -1), numbers.get(v.ticket_id or -1),
                                statuses.get(v.job_key), rt.settings.timezone) for v in visits]
    output.emit(rows, COLUMNS, args.json)
    return 0
