"""Four `intake jobs run-due` processes share 2,000 due jobs on PostgreSQL (claims: FOR UPDATE SKIP LOCKED).

A loopback SMTP relay counts what arrives by Message-ID: each job arrives exactly once. When one worker is
killed (SIGKILL) mid-run, the batch it held goes out once its lease has run out, and nothing else runs
twice: the outbox folder ends with every job's mail.
"""

from __future__ import annotations

import json
import os
import signal
import socket
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


def start_worker(folder: Path, url: str, *extra: str, port: int | None = None,
                 lease_s: float = 120) -> subprocess.Popen[bytes]:
    """`intake jobs run-due` in a process of its own: to the relay on `port`, or into folder/outbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(INTAKE_DATABASE_URL=url, INTAKE_SERVICE_ADDRESSES=SERVICE, INTAKE_OUTBOX_DIR=str(folder / "outbox"),
               INTAKE_JOB_LEASE_S=str(lease_s))
    if port is not None:
        env["INTAKE_RELAY_URL"] = f"smtp://127.0.0.1:{port}"
    return subprocess.Popen([sys.executable, "-m", "pipeline", "jobs", "run-due", "--json", *extra], cwd=folder,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def query(url: str, statement: Any) -> list[Any]:
    engine = db.make_engine(url)
    with engine.connect() as connection:
        rows = list(connection.execute(statement).all())
    engine.dispose()
    return rows


def statuses(url: str) -> dict[str, int]:
    return dict(query(url, select(models.Job.status, func.count()).group_by(models.Job.status)))


def test_four_workers_send_each_job_exactly_once(database: str, relay: tuple[Counting, int], tmp_path: Path) -> None:
    handler, port = relay
    workers = [start_worker(tmp_path, database, port=port) for _ in range(WORKERS)]
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


def test_a_killed_worker_loses_nothing(database: str, tmp_path: Path) -> None:
    lease_s = 300.0  # longer than the run: only the sweeper below, after the lease, may take the orphans
    workers = [start_worker(tmp_path, database, lease_s=lease_s) for _ in range(WORKERS)]
    victim = f"{socket.gethostname()}:{workers[0].pid}"
    holding = select(func.count()).where(models.Job.status == "running", models.Job.locked_by == victim)
    deadline = time.monotonic() + 120
    while not (len(list((tmp_path / "outbox").glob("[0-9]*.eml"))) >= JOBS // 5 and query(database, holding)[0][0]):
        assert time.monotonic() < deadline, "the workers did not get going"
        time.sleep(0.01)
    workers[0].send_signal(signal.SIGKILL)  # mid-run, holding a claimed batch
    killed_at = datetime.now(UTC)
    assert workers[0].wait(timeout=30) == -signal.SIGKILL
    for worker in workers[1:]:
        _, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err.decode()[-2000:]
    orphans = {id_ for (id_,) in query(database, select(models.Job.id).where(
        models.Job.status == "running", models.Job.locked_by == victim))}
    assert orphans and statuses(database) == {"sent": JOBS - len(orphans), "running": len(orphans)}

    later = (killed_at + timedelta(seconds=lease_s + 1)).isoformat()  # the lease has run out
    sweeper = start_worker(tmp_path, database, "--now", later, lease_s=lease_s)
    out, err = sweeper.communicate(timeout=240)
    assert sweeper.returncode == 0, err.decode()[-2000:]
    assert {row["id"] for row in json.loads(out)} == orphans  # exactly the dead worker's jobs ran again
    assert statuses(database) == {"sent": JOBS}
    # nothing lost (a write cut short by the kill may leave a .tmp- file; mail is only ever renamed whole)
    assert len(list((tmp_path / "outbox").glob("[0-9]*.eml"))) == JOBS
    twice = {id_ for (id_,) in query(database, select(models.Job.id).where(models.Job.attempts > 1))}
    assert twice == orphans  # every other job was claimed once
