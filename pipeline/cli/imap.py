"""`intake imap status|poll-once`: where each watched mailbox stands, and a one-off poll for cron and tests."""

from __future__ import annotations

import argparse

from pipeline.channels import imap, imap_state
from pipeline.cli import common, output


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("imap", help="the watched IMAP mailboxes")
    verbs = common.add_subcommands(parser)
    output.add_json_option(verbs.add_parser("status", help="connection, cursor and last error of each mailbox")
                           ).set_defaults(func=status)
    once = output.add_json_option(verbs.add_parser("poll-once", help="take what is new once, then exit"))
    once.add_argument("name", nargs="?", help="only this mailbox (default: all)")
    once.set_defaults(func=poll_once)


def status(args: argparse.Namespace) -> int:
    with common.runtime() as rt:
        rows = imap.status(rt)
    output.emit(rows, imap_state.COLUMNS, args.json)
    return 0


def poll_once(args: argparse.Namespace) -> int:
    with common.runtime() as rt:
        rows = imap.poll_once(rt, args.name)
    output.emit(rows, ("name", "fetched", "uidvalidity", "last_uid", "last_seen_at", "error"), args.json)
    return 1 if any(row["error"] for row in rows) else 0
