#!/usr/bin/env python3
"""Scheduler dispatch rate: N due jobs drained by 1, 2 and 4 worker processes, on SQLite and PostgreSQL.

Each worker process opens its own Runtime, waits at a start line, then runs `worker.run_due` (what
`intake jobs run-due` and `intake serve` do: claim a batch, run each job through its handler, mark it
sent) until nothing is due. Jobs are monthly surveys, pre-rendered e-mail; they go to a loopback SMTP relay
(aiosmtpd, the default) or into the outbox folder (`--sink outbox`: one fsynced .eml per job). The rate is
N / (time from the start line until the last worker is done); the relay also checks that every job
arrived exactly once.

    .venv/bin/python bench/scheduler.py [--jobs N] [--workers 1,2,4] [--sink relay|outbox] [--postgres URL]

PostgreSQL runs when --postgres or INTAKE_TEST_POSTGRES_URL names a server (a throw-away database is
created and dropped).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from pipeline.jobs import scheduler, worker
from pipeline.runtime import Runtime
from pipeline.settings import load_settings
from pipeline.store import db, models
from tests.serving import free_port


class Relay:
    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.original_content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with self.lock:
                    self.ids[line.split(b":", 1)[1].strip().decode()] += 1
                break
        return "250 OK"


def fill(url: str, n: int) -> None:
    engine = db.make_engine(url)
    db.upgrade(engine)
    now = datetime.now(UTC) - timedelta(minutes=1)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM jobs"))
        connection.execute(insert(models.Job), [
            dict(kind="survey", channel="email", recipient=f"customer{i}@mill.example.com", subject=f"Survey {i}",
                 language="en", body_text="How did we do last month?\n" * 20, message_id=f"bench-{uuid.uuid4().hex}@s",
                 payload={"zone": "Asia/Shanghai"}, status="pending", due_at=now, attempts=0,
                 dedupe_key=f"survey:bench:{i}", created_at=now)
            for i in range(n)])
    engine.dispose()


def drain(environ: dict[str, str], start: Any, done: Any) -> None:
    """One worker process: open, wait for the start line, run until nothing is due."""
    rt = Runtime.open(load_settings(environ), migrate=False)
    scheduler.plan(rt, rt.now())  # what `intake jobs run-due` does first; nothing to plan here
    start.wait()
    count = 0
    while outcomes := worker.run_due(rt):
        count += sum(o.status == "sent" for o in outcomes)
    done.put((count, time.perf_counter()))
    rt.close()


def run(url: str, workers: int, n: int, environ: dict[str, str]) -> float:
    fill(url, n)
    context = multiprocessing.get_context("spawn")
    start, done = context.Event(), context.Queue()
    processes = [context.Process(target=drain, args=(dict(environ, INTAKE_DATABASE_URL=url), start, done))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    time.sleep(2.0 + workers)  # every worker has imported and connected
    began = time.perf_counter()
    start.set()
    results = [done.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    sent = sum(count for count, _ in results)
    if sent != n:
        raise SystemExit(f"only {sent} of {n} jobs were sent")
    return n / (max(at for _, at in results) - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--sink", choices=("relay", "outbox"), default="relay")
    parser.add_argument("--postgres", default=os.environ.get("INTAKE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="intake-bench-scheduler-"))
    environ = {"INTAKE_SERVICE_ADDRESSES": "service@support.example", "INTAKE_OUTBOX_DIR": str(folder / "outbox")}
    relay, controller = Relay(), None
    if args.sink == "relay":
        port = free_port()
        controller = Controller(relay, hostname="127.0.0.1", port=port)
        controller.start()
        environ["INTAKE_RELAY_URL"] = f"smtp://127.0.0.1:{port}"

    databases = [("sqlite", f"sqlite:///{folder}/bench.db", None)]
    admin = None
    if args.postgres:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"intake_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        databases.append(("postgresql", make_url(args.postgres).set(database=name).render_as_string(False), name))
    print(f"{args.jobs} jobs, sink {args.sink}, {os.cpu_count()} CPUs")
    print(f"{'database':<12}{'workers':>8}{'jobs/s':>10}")
    try:
        for label, url, _ in databases:
            for workers in counts:
                relay.ids.clear()
                rate = run(url, workers, args.jobs, environ)
                if controller and (len(relay.ids) != args.jobs or set(relay.ids.values()) != {1}):
                    raise SystemExit(f"relay saw {len(relay.ids)} distinct of {args.jobs}, duplicates "
                                     f"{sum(v - 1 for v in relay.ids.values())}")
                print(f"{label:<12}{workers:>8}{rate:>10.0f}", flush=True)
    finally:
        if controller:
            controller.stop()
        if admin is not None:
            with admin.connect() as connection:
                for _, _, name in databases:
                    if name:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
