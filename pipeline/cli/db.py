"""`intake db upgrade`: apply the migrations to INTAKE_DATABASE_URL."""

from __future__ import annotations

import argparse

from pipeline.cli import common
from pipeline.store import db


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("db", help="database schema")
    verbs = common.add_subcommands(parser)
    verbs.add_parser("upgrade", help="apply all migrations").set_defaults(func=upgrade)


def upgrade(args: argparse.Namespace) -> int:
    with common.runtime(migrate=False) as rt:
        db.upgrade(rt.engine)
        print(f"database at {rt.engine.url.render_as_string(hide_password=True)} is up to date")
    return 0
