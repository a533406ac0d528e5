"""`intake serve`: the whole service in one process (SMTP, HTTP, workers) on the configured database.

The listen addresses are bound before the database is opened: a taken port is one line naming its setting
(exit 4), with nothing started and no migration run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging

from pipeline import daemon
from pipeline.cli import common
from pipeline.runtime import Runtime


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("serve", help="run the service: SMTP receiver, HTTP server, workers")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.verbose == 0:
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    settings = common.settings()
    with daemon.listen(settings) as listeners, contextlib.closing(Runtime.open(settings)) as rt:
        daemon.run(rt, listeners)
    return 0
