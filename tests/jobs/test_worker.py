"""The job worker sends acks through a real SMTP relay on loopback, or writes .eml files; retries and failures."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from pipeline.jobs import worker
from pipeline.records import RawInput
from pipeline.runtime import Runtime
from pipeline.store import db, models, queries
from pipeline.tickets import ingest
from tests.conftest import make_settings
from tests.mailmaker import make_mail
from tests.serving import free_port

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)


class Relay:
    """A loopback SMTP relay that keeps what it receives, or answers with a chosen code."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.answer = "250 OK"
        self.refuse: set[str] = set()  # recipients whose message gets 550
        self.rset_answer = "250 OK"
        self.sessions: list[object] = []  # the client's address of each message: one per SMTP session

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if set(envelope.rcpt_tos) & self.refuse:
            return "550 5.1.1 no such user"
        if self.answer.startswith("250"):
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            self.sessions.append(session.peer)
        return self.answer

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        return self.rset_answer


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler, port = Relay(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def open_with_ack(tmp_path: Path, **overrides: Any) -> Runtime:
    rt = Runtime.open(make_settings(tmp_path, **overrides))
    rt.clock = lambda: NOW
    ingest.ingest(rt, [RawInput(make_mail("Board alarm", "Board 3 alarm.", name="王工", charset="gbk"),
                                "t", NOW)])
    return rt


def job_status(rt: Runtime) -> tuple[str, int, str | None]:
    with rt.sessions() as session:
        job = session.scalar(select(models.Job))
        assert job is not None
        return job.status, job.attempts, job.last_error


def test_ack_goes_through_the_relay_with_loop_headers(tmp_path: Path, relay: tuple[Relay, int]) -> None:
    handler, port = relay
    rt = open_with_ack(tmp_path, relay_url=f"smtp://127.0.0.1:{port}")
    outcomes = worker.run_due(rt, NOW)
    assert [o.status for o in outcomes] == ["sent"]
    (mail_from, rcpt, raw), = handler.received
    assert (mail_from, rcpt) == ("service@support.example", ["ann@mill.example.com"])
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["In-Reply-To"].startswith("<test-")
    assert "SR-000001" in message["Subject"]
    assert "王工" in message.get_body(("plain",)).get_content()
    assert worker.run_due(rt, NOW) == []  # exactly once
    rt.close()


def test_permanent_refusal_marks_the_job_failed(tmp_path: Path, relay: tuple[Relay, int]) -> None:
    handler, port = relay
    handler.answer = "550 5.1.1 no such user"
    rt = open_with_ack(tmp_path, relay_url=f"smtp://127.0.0.1:{port}")
    assert [o.status for o in worker.run_due(rt, NOW)] == ["failed"]
    assert job_status(rt)[0] == "failed"
    rt.close()


def test_unreachable_relay_retries_with_backoff(tmp_path: Path) -> None:
    rt = open_with_ack(tmp_path, relay_url=f"smtp://127.0.0.1:{free_port()}")
    assert [o.status for o in worker.run_due(rt, NOW)] == ["retry"]
    assert job_status(rt)[:2] == ("pending", 1)
    assert worker.run_due(rt, NOW + timedelta(seconds=10)) == []  # not due yet
    assert [o.status for o in worker.run_due(rt, NOW + timedelta(seconds=31))] == ["retry"]
    rt.close()


def open_with_acks(tmp_path: Path, senders: list[str], **overrides: Any) -> Runtime:
    rt = Runtime.open(make_settings(tmp_path, **overrides))
    rt.clock = lambda: NOW
    ingest.ingest(rt, [RawInput(make_mail(f"Board {n} alarm", "Board alarm.", sender), f"t{n}", NOW)
                       for n, sender in enumerate(senders)])
    return rt


SENDERS = ["ann@mill.example.com", "bob@plant.example.cn", "cai@grid.example.cn"]


def test_one_pass_sends_its_messages_on_one_relay_session(tmp_path: Path, relay: tuple[Relay, int]) -> None:
    handler, port = relay
    rt = open_with_acks(tmp_path, SENDERS, relay_url=f"smtp://127.0.0.1:{port}")
    assert [o.status for o in worker.run_due(rt, NOW)] == ["sent"] * 3
    assert sorted(rcpt for _, (rcpt,), _ in handler.received) == sorted(SENDERS)
    assert len(set(handler.sessions)) == 1
    rt.close()


def test_a_session_the_relay_gave_up_is_replaced(tmp_path: Path, relay: tuple[Relay, int]) -> None:
    handler, port = relay
    handler.rset_answer = "421 4.4.2 idle for too long, closing"
    rt = open_with_acks(tmp_path, SENDERS, relay_url=f"smtp://127.0.0.1:{port}")
    assert [o.status for o in worker.run_due(rt, NOW)] == ["sent"] * 3
    assert len(handler.received) == 3 and len(set(handler.sessions)) == 3  # each once, each on a new session
    rt.close()


def test_a_refused_message_does_not_stop_the_others_on_its_session(tmp_path: Path, relay: tuple[Relay, int]) -> None:
    handler, port = relay
    handler.refuse = {"bob@plant.example.cn"}
    rt = open_with_acks(tmp_path, SENDERS, relay_url=f"smtp://127.0.0.1:{port}")
    outcomes = {o.recipient: o.status for o in worker.run_due(rt, NOW)}
    assert outcomes == {"ann@mill.example.com": "sent", "bob@plant.example.cn": "failed",
                        "cai@grid.example.cn": "sent"}
    assert len(handler.received) == 2
    rt.close()


def test_without_relay_acks_are_written_as_eml(tmp_path: Path) -> None:
    rt = open_with_ack(tmp_path)
    assert [o.status for o in worker.run_due(rt, NOW)] == ["sent"]
    written, = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["To"] == "ann@mill.example.com" and "SR-000001" in message["Subject"]
    rt.close()


def test_a_dead_workers_job_is_retried_after_its_lease(tmp_path: Path) -> None:
    rt = open_with_ack(tmp_path)
    with db.transaction(rt.sessions) as session:
        claimed = queries.claim_due_jobs(session, NOW, "dead-worker", timedelta(seconds=60))
    assert len(claimed) == 1  # ...and the worker dies here
    assert worker.run_due(rt, NOW + timedelta(seconds=30)) == []
    assert [o.status for o in worker.run_due(rt, NOW + timedelta(seconds=61))] == ["sent"]
    rt.close()
