"""Four `intake jobs run-due` processes share 2,000 due jobs on PostgreSQL (claims: FOR UPDATE SKIP LOCKED).

A loopback SMTP relay counts what arrives by Message-ID: each job arrives exactly once, and when one worker
is killed (SIGKILL) mid-run, its claimed jobs go out after their lease ran out, so nothing is lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select

from pipeline.store import db, models
from tests.conftest import SERVICE, PostgresDatabases
from tests.serving import free_port

JOBS, WORKERS = 2000, 4
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Counting:
    """The relay: Message-IDs as they arrive."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.original_content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with self.lock:
                    self.ids.append(line.split(b":", 1)[1].strip().decode())
                break
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.ids)


@pytest.fixture
def relay() -> Iterator[tuple[Counting, int]]:
    handler, port = Counting(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def database(postgres: PostgresDatabases) -> str:
    """A fresh database with 2,000 surveys due now."""
    url = postgres.new()
    engine = db.make_engine(url)
    db.upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(insert(models.Job), [
            dict(kind="survey", channel="email", recipient=f"customer{n}@mill.example.com", subject=f"Survey {n}",
                 language="en", body_text="How did we do?", message_id=f"job-{n}@support.example",
                 payload={"zone": "Asia/Shanghai"}, status="pending", due_at=now - timedelta(minutes=1),
                 attempts=0, dedupe_key=f"survey:bulk:{n}", created_at=now)
            for n in range(JOBS)])
    engine.dispose()
    return url


def start_worker(folder: Path, url: str, port: int, *extra: str, lease_s: float = 120) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(INTAKE_DATABASE_URL=url, INTAKE_SERVICE_ADDRESSES=SERVICE, INTAKE_RELAY_URL=f"smtp://127.0.0.1:{port}",
               INTAKE_JOB_LEASE_S=str(lease_s))
    return subprocess.Popen([sys.executable, "-m", "pipeline", "jobs", "run-due", "--json", *extra], cwd=folder,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def statuses(url: str) -> dict[str, int]:
    engine = db.make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(models.Job.status, func.count()).group_by(models.Job.status)).all()
    engine.dispose()
    return {status: count for status, count in rows}


def test_four_workers_send_each_job_exactly_once(database: str, relay: tuple[Counting, int], tmp_path: Path) -> None:
    handler, port = relay
    workers = [start_worker(tmp_path, database, port) for _ in range(WORKERS)]
    ran = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err.decode()[-2000:]
        ran.append({row["id"] for row in json.loads(out)})
    assert sum(len(ids) for ids in ran) == JOBS and len(set().union(*ran)) == JOBS  # disjoint claims
    assert all(ids for ids in ran), [len(ids) for ids in ran]  # every worker took a share
    arrived = Counter(handler.ids)
    assert len(arrived) == JOBS and set(arrived.values()) == {1}
    assert statuses(database) == {"sent": JOBS}


def test_a_killed_worker_loses_nothing(database: str, relay: tuple[Counting, int], tmp_path: Path) -> None:
    handler, port = relay
    lease_s = 5.0
    workers = [start_worker(tmp_path, database, port, lease_s=lease_s) for _ in range(WORKERS)]
    deadline = time.monotonic() + 120
    while handler.count() < JOBS // 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    workers[0].send_signal(signal.SIGKILL)  # mid-run: it holds a claimed batch
    killed_at = datetime.now(UTC)
    assert workers[0].wait(timeout=30) == -signal.SIGKILL
    for worker in workers[1:]:
        _, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err.decode()[-2000:]
    # whatever the dead worker still held runs again once its lease is over
    later = (killed_at + timedelta(seconds=lease_s + 1)).isoformat()
    sweeper = start_worker(tmp_path, database, port, "--now", later, lease_s=lease_s)
    _, err = sweeper.communicate(timeout=240)
    assert sweeper.returncode == 0, err.decode()[-2000:]
    arrived = Counter(handler.ids)
    assert len(arrived) == JOBS  # nothing lost
    assert sum(count - 1 for count in arrived.values()) <= 1  # at most the one in flight when it died
    assert statuses(database) == {"sent": JOBS}
