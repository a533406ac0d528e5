#!/usr/bin/env python3
"""Ingest throughput: N generated service mails through intake, against a floor measured in the same run.

The floor is what the Python standard library alone does for the same messages: `email` with
policy.default, the body and subject decoded, and one SQLite insert per message in one transaction.
intake does more per message (raw stored first, parse, triage, ticket + message + ack job, durable
commits), so the ratio says what that costs. Target: intake >= 1.5x the floor's rate.

    .venv/bin/python bench/ingest.py [N]          (default N = 2000)
"""

from __future__ import annotations

import email
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from email import policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.records import RawInput
from pipeline.runtime import Runtime
from pipeline.settings import load_settings
from pipeline.tickets import bulk
from tests.mailmaker import make_mail

SUBJECTS_ZH = ["核心交换机宕机", "监控系统部分功能异常", "如何配置SNMP告警", "备件更换申请", "光模块间歇性丢包"]
SUBJECTS_EN = ["Controller offline", "How do I configure SNMP traps?", "Intermittent packet loss", "Firmware upgrade"]
BODY_ZH = ("您好：\n\n我厂设备今天出现故障，{detail}，请尽快安排工程师处理。\n\n"
           "谢谢！\n王工\n华东电厂 运维部\n电话：021-5555 0100\n")
BODY_EN = ("Hello,\n\nSince this morning the controller in our plant has been showing {detail}. We have restarted it "
           "twice but the problem is still there. Could you please send an engineer or tell us what to check?\n\n"
           "Regards,\nAnn Lee\nMill Co.\n")


def generate(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    messages = []
    for i in range(n):
        chinese = rng.random() < 0.6
        words = ["告警", "丢包", "重启", "宕机", "延迟"] if chinese else [
            "an alarm", "packet loss", "a reboot loop", "link down events", "high latency"]
        detail = ("、" if chinese else ", ").join(rng.choice(words) for _ in range(rng.randint(2, 12)))
        subject = rng.choice(SUBJECTS_ZH if chinese else SUBJECTS_EN) + f" #{i}"
        body = (BODY_ZH if chinese else BODY_EN).format(detail=detail) * rng.randint(1, 6)
        sender = f"user{i % 300}@customer{i % 50}.example.cn"
        messages.append(make_mail(subject, body, sender, charset="gbk" if chinese and i % 2 else "utf-8",
                                  message_id=f"bench-{i}@example.cn"))
    return messages


def floor(messages: list[bytes], folder: Path) -> float:
    connection = sqlite3.connect(folder / "floor.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, subject TEXT, body TEXT, raw BLOB)")
    start = time.perf_counter()
    connection.execute("BEGIN")
    for raw in messages:
        message = email.message_from_bytes(raw, policy=policy.default)
        body = message.get_body(("plain", "html"))
        text = body.get_content() if body is not None else ""
        connection.execute("INSERT INTO m (subject, body, raw) VALUES (?, ?, ?)", (str(message["subject"]), text, raw))
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return len(messages) / elapsed


def intake(messages: list[bytes], folder: Path) -> float:
    settings = load_settings({"INTAKE_DATABASE_URL": f"sqlite:///{folder}/intake.db",
                              "INTAKE_SERVICE_ADDRESSES": "service@support.example",
                              "INTAKE_ACK_RATE_LIMIT_PER_HOUR": "0"})
    rt = Runtime.open(settings)
    now = datetime.now(UTC)
    items = [RawInput(raw=raw, source=f"bench-{i}", received_at=now) for i, raw in enumerate(messages)]
    start = time.perf_counter()
    results = list(bulk.ingest_all(rt, iter(items)))
    elapsed = time.perf_counter() - start
    created = sum(r.status == "created" for r in results)
    rt.close()
    if created != len(messages):
        raise SystemExit(f"only {created} of {len(messages)} created")
    return len(messages) / elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    messages = generate(n)
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        floor_rate = floor(messages, folder)
        intake_rate = intake(messages, folder)
    print(f"messages:            {n} ({sum(map(len, messages)) / n / 1024:.1f} KiB average), cpus {os.cpu_count()}")
    print(f"floor (stdlib+sqlite): {floor_rate:8.0f} msgs/s")
    print(f"intake ingest:         {intake_rate:8.0f} msgs/s")
    print(f"ratio intake/floor:    {intake_rate / floor_rate:8.2f}  (target >= 1.5)")


if __name__ == "__main__":
    main()
