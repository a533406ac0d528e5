"""`intake customers import FILE.csv` and `intake customers list`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.cli import common, output
from pipeline.errors import UsageError
from pipeline.store import db, queries, views
from pipeline.tickets import customers

COLUMNS = ("name", "tier", "emails", "domains", "phones", "manager_email", "timezone")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("customers", help="customers, their tiers and contacts")
    verbs = common.add_subcommands(parser)
    importer = verbs.add_parser("import", help=f"import a CSV with the header {','.join(customers.HEADER)}")
    importer.add_argument("file")
    importer.set_defaults(func=import_csv)
    output.add_json_option(verbs.add_parser("list", help="list customers")).set_defaults(func=list_customers)


def import_csv(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    with common.runtime() as rt:
        rows, errors = customers.read_csv(text.splitlines(keepends=True), rt.settings.timezone)
        with db.transaction(rt.sessions) as session:
            for row in rows:
                customers.upsert(session, row, rt.now())
    for error in errors:
        print(f"{path}: {error}", file=sys.stderr)
    print(f"imported {len(rows)} customer(s), rejected {len(errors)} row(s)")
    return 1 if errors else 0


def list_customers(args: argparse.Namespace) -> int:
    with common.runtime() as rt, rt.sessions() as session:
        found = queries.customers(session)
        contacts = queries.customer_contacts(session, [c.id for c in found])
        rows = [views.customer_row(c, contacts.get(c.id, [])) for c in found]
    output.emit(rows, COLUMNS, args.json)
    return 0
