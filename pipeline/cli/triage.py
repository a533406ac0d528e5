"""`intake triage PATH...`: parse and triage without writing anything, to see why a mail was classified."""

from __future__ import annotations

import argparse

from pipeline.channels import files
from pipeline.cli import common, output
from pipeline.runtime import Runtime
from pipeline.tickets import ingest

COLUMNS = ("source", "language", "severity", "automatic", "ticket_ref", "subject")
WIDTHS = (40, 8, 8, 28, 10, 60)  # fixed, so the header fits rows that are printed as each file is read


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("triage", help="show how messages would be classified (writes nothing)")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    output.add_json_option(parser)
    parser.set_defaults(func=run)


def explain(rt: Runtime, source: str, raw: bytes) -> dict[str, object]:
    understood = ingest.understand_in(rt, raw)
    mail, verdict = understood.mail, understood.triage
    if mail is None or verdict is None:
        return {"source": source, "from": None, "subject": None, "text": None, "language": None,
                "severity": None, "severity_reason": None, "automatic": None, "ticket_ref": None,
                "decoding": [], "error": understood.failure}
    return {
        "source": source,
        "from": mail.from_addr,
        "subject": mail.subject,
        "text": verdict.text,
        "language": verdict.language,
        "severity": int(verdict.severity),
        "severity_reason": verdict.severity_reason,
        "automatic": verdict.automatic,
        "ticket_ref": verdict.ticket_ref,
        "decoding": list(mail.decoding),
        "escalation": verdict.escalation,
    }


def run(args: argparse.Namespace) -> int:
    rt = Runtime.open(common.settings(), migrate=False)
    try:
        output.stream((explain(rt, source, raw) for source, raw in files.read_messages(args.paths)),
                      COLUMNS, args.json, WIDTHS)
    finally:
        rt.close()
    return 0
