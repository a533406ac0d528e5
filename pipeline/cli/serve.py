"""`intake serve`: the whole service in one process (SMTP, HTTP, workers) on the configured database."""

from __future__ import annotations

import argparse
import logging

from pipeline import daemon
from pipeline.cli import common


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("serve", help="run the service: SMTP receiver, HTTP server, workers")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.verbose == 0:
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    with common.runtime() as rt:
        daemon.run(rt)
    return 0
