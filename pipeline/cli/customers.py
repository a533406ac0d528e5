"""`intake customers import FILE.csv` and `intake customers list`.

An import that changes a customer's tier or policy overrides gives that customer's open and waiting tickets
new deadlines and replans their jobs (pipeline.jobs.scheduler.plan_ticket) in the same transaction, as
`intake tickets severity` does for one ticket. Open and waiting tickets of no customer whose requester
(address, domain, caller number) belongs to an imported customer become that customer's, with its tier,
time zone, deadlines and manager (pipeline.tickets.service.link_customers). `--at` says when the new terms
took effect (default now); planning happens as of that instant.

The file is read as UTF-8, GB18030 or Big5 (pipeline.tickets.customers.decode_csv); anything but UTF-8
is named on stderr, so a file read with the wrong one is noticed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from pipeline.cli import common, output
from pipeline.errors import UsageError
from pipeline.jobs import scheduler
from pipeline.runtime import Runtime
from pipeline.store import db, models, queries, views
from pipeline.tickets import customers, service

COLUMNS = ("name", "tier", "emails", "domains", "phones", "manager_email", "timezone")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("customers", help="customers, their tiers and contacts")
    verbs = common.add_subcommands(parser)
    importer = verbs.add_parser("import", help=f"import a CSV with the header {','.join(customers.HEADER)} "
                                f"(and optionally {customers.OVERRIDES}, a JSON object)")
    importer.add_argument("file")
    importer.add_argument("--at", help="when the new terms take effect (ISO 8601; default now)")
    importer.set_defaults(func=import_csv)
    output.add_json_option(verbs.add_parser("list", help="list customers")).set_defaults(func=list_customers)


def import_csv(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        text, codec = customers.decode_csv(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    if codec != "utf-8-sig":
        print(f"{path}: not UTF-8, read as {codec.upper()}", file=sys.stderr)
    with common.runtime() as rt:
        rows, errors = customers.read_csv(text.splitlines(keepends=True), rt.settings.timezone, rt.service_policy)
        now = common.parse_time(args.at, rt.settings.zone) or rt.now()
        with db.transaction(rt.sessions) as session:
            imported = customers.import_rows(session, rows, now)
            recomputed = follow_customers(rt, session, imported.changed, now)
            linked = link_tickets(rt, session, imported.customers, now)
    for error in errors:
        print(f"{path}: {error}", file=sys.stderr)
    print(f"imported {len(rows)} customer(s), rejected {len(errors)} row(s), "
          f"recomputed the deadlines of {recomputed + linked} open ticket(s), "
          f"linked {linked} ticket(s) to their customer")
    return 1 if errors else 0


def follow_customers(rt: Runtime, session: Session, changed: list[models.Customer], now: datetime) -> int:
    """New deadlines and a new plan for the open tickets of customers whose terms changed; how many."""
    ctx, count = service.context(rt), 0
    for customer in changed:
        for ticket in service.follow_customer(session, ctx, customer, now):
            scheduler.plan_ticket(rt, session, ticket, now)
            count += 1
    return count


def link_tickets(rt: Runtime, session: Session, imported: list[models.Customer], now: datetime) -> int:
    """The open tickets of no customer that belong to an imported one: linked, new deadlines, a new plan
    (the customer's manager now hears of their escalations); how many."""
    linked = service.link_customers(session, service.context(rt), imported, now)
    for ticket in linked:
        scheduler.plan_ticket(rt, session, ticket, now)
    return len(linked)


def list_customers(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        found = queries.customers(session)
        contacts = queries.customer_contacts(session, [c.id for c in found])
        rows = [views.customer_row(c, contacts.get(c.id, [])) for c in found]
    if not args.json:  # JSON keeps the lists; a table shows them as people write them
        rows = [{key: ", ".join(value) if isinstance(value, list) else value for key, value in row.items()}
                for row in rows]
    output.emit(rows, COLUMNS, args.json)
    return 0
