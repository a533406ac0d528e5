"""SIGKILL in the middle of an ingest, then the same ingest again: one ticket and one ack per message."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SERVICE
from tests.mailmaker import make_mail

MESSAGES = 200


def count(database: Path, sql: str) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=30) as connection:
            return connection.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0


@pytest.mark.slow
def test_kill_mid_ingest_then_rerun(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(MESSAGES):
        sender = f"user{i % 40}@plant{i % 7}.example.cn"
        (inbox / f"{i:04d}.eml").write_bytes(make_mail(f"故障 {i}", f"第 {i} 号设备告警，请处理。", sender))
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(INTAKE_DATABASE_URL=f"sqlite:///{tmp_path}/intake.db", INTAKE_SERVICE_ADDRESSES=SERVICE)
    database = tmp_path / "intake.db"
    command = [sys.executable, "-m", "pipeline", "ingest", str(inbox), "--json", "--batch-size", "10"]

    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while count(database, "SELECT count(*) FROM tickets") < 40 and time.monotonic() < deadline:
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = count(database, "SELECT count(*) FROM tickets")
    assert 40 <= killed_at < MESSAGES

    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert count(database, "SELECT count(*) FROM tickets") == MESSAGES
    assert count(database, "SELECT count(*) FROM jobs WHERE kind = 'ack'") == MESSAGES
    assert count(database, "SELECT count(DISTINCT ticket_id) FROM jobs WHERE kind = 'ack'") == MESSAGES
    assert count(database, "SELECT count(*) FROM raw_inputs WHERE status = 'processed'") == MESSAGES
