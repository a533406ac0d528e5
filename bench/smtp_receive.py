#!/usr/bin/env python3
"""Messages per second accepted by the SMTP receiver of a running `intake serve`, over loopback, with 8
concurrent clients (each one connection, one message after the other). Accepted = answered 250, i.e. the
raw message is committed; processing into tickets runs meanwhile in the same process. The per-client
limits are switched off: every client comes from 127.0.0.1.

    .venv/bin/python bench/smtp_receive.py [--clients 8] [--messages 200]   (messages per client)
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import SERVICE
from tests.mailmaker import make_mail
from tests.serving import ServeProcess

BODY = "您好：\n\n我厂 {n} 号机组控制器今天多次重启，告警代码 0x{n:04x}，请尽快安排工程师处理。\n\n谢谢！\n王工\n" * 4


def client(port: int, number: int, count: int, failures: list[str]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as connection:
        for n in range(count):
            sender = f"wang{number}-{n}@plant{number}.example.cn"
            raw = make_mail(f"机组控制器重启 {number}-{n}", BODY.format(n=n), sender,
                            message_id=f"smtp-bench-{number}-{n}-{time.time_ns()}@example.cn")
            refused = connection.sendmail(f"wang{number}@plant{number}.example.cn", [SERVICE], raw)
            if refused:
                failures.append(str(refused))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--messages", type=int, default=200, help="per client")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        config = folder / "intake.toml"
        config.write_text("[smtp]\nmax_connections_per_client = 0\nmax_messages_per_client_per_minute = 0\n",
                          encoding="utf-8")
        serve = ServeProcess(folder, INTAKE_CONFIG=str(config)).start()
        failures: list[str] = []
        threads = [threading.Thread(target=client, args=(serve.smtp_port, i, args.messages, failures))
                   for i in range(args.clients)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        total = args.clients * args.messages
        print(f"{total} messages from {args.clients} concurrent clients in {elapsed:.1f} s: "
              f"{total / elapsed:.0f} messages/s accepted (250 after commit); {len(failures)} refused; "
              f"cpus {os.cpu_count()}", flush=True)
        serve.stop(signal.SIGKILL)  # a SIGTERM would first process the whole backlog; nothing to keep here


if __name__ == "__main__":
    main()
