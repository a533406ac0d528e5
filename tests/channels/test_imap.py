"""The IMAP poller against a real Dovecot on loopback: mail appended with a real client becomes tickets."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.channels import imap
from pipeline.cli import main as cli
from pipeline.store import models
from tests.channels import dovecot as dovecot_module
from tests.channels.dovecot import Dovecot
from tests.channels.polling import raw_count, runtime_for, status, subjects, watching
from tests.mailmaker import make_mail
from tests.serving import wait_for

pytestmark = pytest.mark.dovecot
dovecot = dovecot_module.dovecot  # one server for the module; each test takes a user of its own


@pytest.fixture
def user(dovecot: Dovecot) -> str:
    return dovecot.add_user()




def flags(dovecot: Dovecot, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
    with dovecot.client(user) as client:
        client.select_folder(folder, readonly=True)
        return client.get_flags(client.search("ALL"))


def mail(subject: str, n: int = 0) -> bytes:
    return make_mail(subject, f"Our controller #{n} reboots every hour, please help.", f"ops{n}@mill{n}.example")


def test_new_mail_becomes_a_ticket_then_is_flagged(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    arrived = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    dovecot.append(user, mail("Controller reboots", 1), msg_time=arrived)
    dovecot.append(user, make_mail("核心交换机宕机", "您好：核心交换机宕机，全厂网络中断，请尽快处理。",
                                   "wang@plant.example.cn"))
    with runtime_for(tmp_path, dovecot.mailbox(user)) as rt:
        (row,) = imap.poll_once(rt)
        assert (row["fetched"], row["error"], row["last_uid"]) == (2, None, 2)
        assert subjects(rt) == ["Controller reboots", "核心交换机宕机"]
        with rt.sessions() as session:
            first = session.scalars(select(models.RawInput).order_by(models.RawInput.id)).first()
            assert first is not None and first.received_at == arrived and first.source == f"imap:{user}"
        assert all({b"\\Seen", b"$Intake"} <= set(f) for f in flags(dovecot, user).values())

        (again,) = imap.poll_once(rt)  # nothing new: nothing fetched, nothing doubled
        assert (again["fetched"], again["last_uid"]) == (0, 2)
        assert raw_count(rt) == 2 and len(subjects(rt)) == 2


def test_move_mode_moves_after_import(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    dovecot.append(user, mail("Move me", 2))
    with runtime_for(tmp_path, dovecot.mailbox(user, after_import="move", move_to="Done")) as rt:
        assert imap.poll_once(rt)[0]["fetched"] == 1
        assert subjects(rt) == ["Move me"]
    assert flags(dovecot, user) == {}
    assert len(flags(dovecot, user, "Done")) == 1


def test_none_mode_leaves_the_message_unread(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    dovecot.append(user, mail("Leave me", 3))
    with runtime_for(tmp_path, dovecot.mailbox(user, after_import="none")) as rt:
        assert imap.poll_once(rt)[0]["fetched"] == 1
        assert imap.poll_once(rt)[0]["fetched"] == 0  # the cursor, not a flag, says it was taken
        assert subjects(rt) == ["Leave me"]
    (left,) = flags(dovecot, user).values()
    assert b"\\Seen" not in left and b"$Intake" not in left  # (EXAMINE even leaves \Recent alone)


def test_uidvalidity_change_rescans_without_new_tickets(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    for n in range(3):
        dovecot.append(user, mail(f"Before {n}", 10 + n))
    with runtime_for(tmp_path, dovecot.mailbox(user)) as rt:
        assert imap.poll_once(rt)[0]["fetched"] == 3
        dovecot.set_uidvalidity(user, 4242)
        dovecot.append(user, mail("After", 20))
        (row,) = imap.poll_once(rt)
        assert (row["fetched"], row["uidvalidity"], row["last_uid"]) == (4, 4242, 4)  # everything again...
        assert subjects(rt) == ["Before 0", "Before 1", "Before 2", "After"]  # ...but ticketed once
        assert raw_count(rt) == 4


def test_idle_brings_new_mail_within_two_seconds(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    box = dovecot.mailbox(user, poll_interval_s=300)  # only IDLE can be this quick
    with runtime_for(tmp_path, box) as rt, watching(rt, box):
        wait_for(lambda: status(rt, user)["idle"])
        time.sleep(0.3)  # let the first sync end and IDLE begin
        for n in range(3):
            began = time.monotonic()
            dovecot.append(user, mail(f"Idle {n}", 30 + n))
            wait_for(lambda n=n: f"Idle {n}" in subjects(rt), timeout_s=5, interval_s=0.02)
            assert time.monotonic() - began < 2.0
        assert status(rt, user)["connected"]
    with runtime_for(tmp_path, box) as rt:
        assert not status(rt, user)["connected"]  # a clean stop gave the lease back


def test_server_restart_mid_fetch_loses_and_doubles_nothing(tmp_path: Path) -> None:
    total = 200  # enough that the server goes away while the first sync runs
    with dovecot_module.running() as server:
        user = server.add_user()
        server.append_many(user, [mail(f"Batch mail {n:03d}", n) for n in range(total)])
        box = server.mailbox(user, batch_size=4)
        with runtime_for(tmp_path, box) as rt, watching(rt, box):
            wait_for(lambda: raw_count(rt) >= 4, interval_s=0.005)
            server.stop()
            assert raw_count(rt) < total, "the fetch should still have been running"
            wait_for(lambda: status(rt, user)["last_error"])
            server.start()
            wait_for(lambda: len(subjects(rt)) == total and status(rt, user)["last_uid"] == total, timeout_s=30)
            assert sorted(subjects(rt)) == [f"Batch mail {n:03d}" for n in range(total)]
            assert raw_count(rt) == total
            assert status(rt, user)["last_error"] is None


def test_wrong_password_backs_off_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # a server of its own: Dovecot slows every login from an address that just failed one
    with dovecot_module.running() as server:
        user = server.add_user()
        box = server.mailbox(user, password="not-the-password")
        with runtime_for(tmp_path, box) as rt, watching(rt, box):
            wait_for(lambda: status(rt, user)["last_error"])
            time.sleep(3)  # a hot loop would log in again and again here
        attempts = [line for line in server.log().splitlines() if "auth failed" in line and f"<{user}>" in line]
    assert len(attempts) == 1

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INTAKE_DATABASE_URL", f"sqlite:///{tmp_path}/intake.db")
    monkeypatch.setenv("INTAKE_IMAP", json.dumps([box.model_dump(mode="json")]))
    assert cli.main(["imap", "status", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert set(row) == {"name", "connected", "idle", "uidvalidity", "last_uid", "last_error", "last_seen_at"}
    assert row["connected"] is False and row["name"] == user
    assert "AUTHENTICATIONFAILED" in row["last_error"] and "retrying in" in row["last_error"]


def test_poll_once_command(dovecot: Dovecot, user: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    dovecot.append(user, mail("From cron", 40))
    box = dovecot.mailbox(user)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INTAKE_DATABASE_URL", f"sqlite:///{tmp_path}/intake.db")
    monkeypatch.setenv("INTAKE_SERVICE_ADDRESSES", "service@support.example")
    monkeypatch.setenv("INTAKE_IMAP", json.dumps([box.model_dump(mode="json")]))
    assert cli.main(["imap", "poll-once", user, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["fetched"], row["last_uid"], row["error"]) == (user, 1, 1, None)
    assert cli.main(["imap", "poll-once", "no-such-box"]) == 3
    assert "no [[imap]] mailbox named 'no-such-box'" in capsys.readouterr().err
