"""One process per mailbox: the lease in the store, on SQLite and PostgreSQL, and two real `intake serve`
processes sharing one PostgreSQL database and one Dovecot mailbox (one fetches; the other takes over after
the first is killed with SIGKILL)."""

from __future__ import annotations

import json
import re
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.channels import imap_state, lease
from pipeline.runtime import Runtime
from pipeline.store import db, models
from tests.channels import dovecot as dovecot_module
from tests.conftest import PostgresDatabases
from tests.mailmaker import make_mail
from tests.serving import ServeProcess, wait_for

T0 = datetime(2026, 5, 6, 1, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def test_one_holder_at_a_time_and_takeover_after_expiry(runtime: Runtime) -> None:
    sessions = runtime.sessions
    assert lease.hold(sessions, "service", "a", T0, LEASE)
    assert not lease.hold(sessions, "service", "b", T0 + timedelta(seconds=10), LEASE)
    assert lease.hold(sessions, "service", "a", T0 + timedelta(seconds=20), LEASE)  # renewed to T0+50s
    assert not lease.hold(sessions, "service", "b", T0 + timedelta(seconds=45), LEASE)
    assert lease.hold(sessions, "service", "b", T0 + timedelta(seconds=51), LEASE)  # a stopped renewing
    assert not lease.hold(sessions, "service", "a", T0 + timedelta(seconds=52), LEASE)
    # the old holder can no longer move the cursor; the new one can
    assert not imap_state.advance(sessions, "service", "a", 7, 99, T0 + timedelta(seconds=52))
    assert imap_state.advance(sessions, "service", "b", 7, 12, T0 + timedelta(seconds=52))
    lease.release(sessions, "service", "b", T0 + timedelta(seconds=53))
    assert lease.hold(sessions, "service", "a", T0 + timedelta(seconds=54), LEASE)  # released: free at once
    with sessions() as session:
        assert lease.current(session, "service").holder == "a"
    assert imap_state.cursor(sessions, "service") == imap_state.Cursor(7, 12)


def test_concurrent_takers_only_one_wins(runtime: Runtime) -> None:
    takers = 6
    runtimes = [Runtime.open(runtime.settings, migrate=False) for _ in range(takers)]
    barrier = threading.Barrier(takers)
    won: list[str] = []

    def take(rt: Runtime, name: str) -> None:
        barrier.wait()
        if lease.hold(rt.sessions, "shared", name, T0, LEASE):
            won.append(name)

    threads = [threading.Thread(target=take, args=(rt, f"p{i}")) for i, rt in enumerate(runtimes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for rt in runtimes:
        rt.close()
    assert len(won) == 1


def holder_pid(url: str, name: str) -> int | None:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            holder = connection.scalar(select(models.MailboxState.holder).where(models.MailboxState.name == name))
    finally:
        engine.dispose()
    found = re.search(r":(\d+)/", holder or "")
    return int(found.group(1)) if found else None


def counts(url: str) -> tuple[int, int]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            tickets = connection.scalar(select(func.count()).select_from(models.Ticket)) or 0
            raws = connection.scalar(select(func.count()).select_from(models.RawInput)) or 0
    finally:
        engine.dispose()
    return tickets, raws


@pytest.mark.postgres
@pytest.mark.dovecot
def test_two_serve_processes_on_postgresql_watch_one_mailbox_once(postgres: PostgresDatabases,
                                                                  tmp_path: Path) -> None:
    url = postgres.new()
    engine = db.make_engine(url)
    db.upgrade(engine)  # before both start, so they do not race to create the schema
    engine.dispose()
    with dovecot_module.running() as server:
        user = server.add_user()
        box = server.mailbox(user, lease_s=3.0, poll_interval_s=60.0)
        env = {"INTAKE_DATABASE_URL": url, "INTAKE_IMAP": json.dumps([box.model_dump(mode="json")])}
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        first = ServeProcess(tmp_path / "a", **env).start()
        second = None
        try:
            assert first.proc is not None
            wait_for(lambda: holder_pid(url, user) == first.proc.pid)
            second = ServeProcess(tmp_path / "b", **env).start()
            assert second.proc is not None
            for n in range(5):
                server.append(user, make_mail(f"While A lives {n}", "The fan is loud.", f"ops{n}@a.example"))
            wait_for(lambda: counts(url) == (5, 5), timeout_s=20)
            assert holder_pid(url, user) == first.proc.pid
            assert f"imap {user}: connected" not in second.log()  # the second never touched the mailbox

            first.stop(signal.SIGKILL)
            for n in range(3):
                server.append(user, make_mail(f"After A died {n}", "The fan stopped.", f"ops{n}@b.example"))
            wait_for(lambda: holder_pid(url, user) == second.proc.pid, timeout_s=60)
            wait_for(lambda: counts(url) == (8, 8), timeout_s=20)
            assert f"imap {user}: connected" in second.log()
            assert len(re.findall(rf"imap {user}: raw \d+ created", first.log())) == 5
            assert len(re.findall(rf"imap {user}: raw \d+ created", second.log())) == 3
        finally:
            for proc in (first, second):
                if proc is not None and proc.proc is not None and proc.proc.poll() is None:
                    proc.stop()
