#!/usr/bin/env python3
"""Mail-to-acknowledgement latency with `intake serve` running: from a message's APPEND to Dovecot (the poller
is in IDLE), and from the end of SMTP DATA, to its ack lying in the outbox (an .eml whose In-Reply-To names
the message). The ack's file time minus the send time; one message at a time, spaced out, as mail arrives.
Target: p99 under 2 s for both.

    .venv/bin/python bench/mail_latency.py [--count 100] [--gap 0.3] [--scheduler-interval 1.0]
"""

from __future__ import annotations

import argparse
import email.parser
import json
import smtplib
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.channels import dovecot as dovecot_module
from tests.conftest import SERVICE
from tests.mailmaker import make_mail
from tests.serving import ServeProcess, wait_for


class Outbox:
    """Which message each ack in the outbox answers, and when its file was written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: dict[str, float] = {}
        self.parser = email.parser.BytesHeaderParser()

    def scan(self) -> dict[str, float]:
        for path in self.folder.glob("*.eml") if self.folder.exists() else ():
            if path.name in self.seen:
                continue
            headers = self.parser.parsebytes(path.read_bytes())
            self.seen[path.name] = 0.0
            answered = (headers.get("In-Reply-To") or "").strip().strip("<>")
            if answered:
                self.seen[answered] = path.stat().st_mtime
        return self.seen


def message(channel: str, n: int) -> tuple[str, bytes]:
    message_id = f"latency-{channel}-{n}-{time.time_ns()}@mill.example.com"
    raw = make_mail(f"Controller alarm {channel} #{n}", "Our controller raises alarm 0x41 after the upgrade.",
                    f"ops{n}@{channel}{n}.mill.example.com", message_id=message_id)
    return message_id, raw


def measure(outbox: Outbox, count: int, gap_s: float, send: Callable[[bytes], float], channel: str) -> list[float]:
    sent: dict[str, float] = {}
    for n in range(count):
        message_id, raw = message(channel, n)
        sent[message_id] = send(raw)
        time.sleep(gap_s)
    wait_for(lambda: all(m in outbox.scan() for m in sent), timeout_s=60, interval_s=0.05)
    return sorted(outbox.seen[m] - at for m, at in sent.items())


def report(name: str, latencies: list[float]) -> None:
    p99 = latencies[min(len(latencies) - 1, round(len(latencies) * 0.99) - 1)]
    print(f"{name:<22} n={len(latencies)}  p50 {statistics.median(latencies) * 1000:6.0f} ms  "
          f"p99 {p99 * 1000:6.0f} ms  max {latencies[-1] * 1000:6.0f} ms  (target p99 < 2000 ms)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between two messages")
    parser.add_argument("--scheduler-interval", default="1.0", help="INTAKE_SCHEDULER_INTERVAL_S of the server")
    args = parser.parse_args()
    with dovecot_module.running() as server, tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        user = server.add_user()
        box = server.mailbox(user, poll_interval_s=300.0)
        env = {"INTAKE_IMAP": json.dumps([box.model_dump(mode="json")]),
               "INTAKE_SCHEDULER_INTERVAL_S": args.scheduler_interval}
        with ServeProcess(folder, **env) as serve:
            def idle() -> bool:
                with sqlite3.connect(folder / "intake.db") as connection:
                    row = connection.execute("SELECT idle FROM mailbox_states WHERE name = ?", (user,)).fetchone()
                return bool(row and row[0])

            wait_for(idle, timeout_s=30)
            outbox = Outbox(folder / "outbox")

            def append(raw: bytes) -> float:
                began = time.time()
                server.append(user, raw)
                return began

            report("IMAP APPEND -> ack", measure(outbox, args.count, args.gap, append, "imap"))
            with smtplib.SMTP("127.0.0.1", serve.smtp_port, timeout=30) as client:
                client.ehlo()

                def deliver(raw: bytes) -> float:
                    client.mail("ops@mill.example.com")
                    client.rcpt(SERVICE)
                    began = time.time()  # DATA and its end follow at once; the 250 comes after the commit
                    code, reply = client.data(raw)
                    if code != 250:
                        raise SystemExit(f"SMTP refused: {code} {reply!r}")
                    return began

                report("SMTP DATA -> ack", measure(outbox, args.count, args.gap, deliver, "smtp"))
    print(f"scheduler interval {args.scheduler_interval} s, {args.gap} s between messages")


if __name__ == "__main__":
    main()
