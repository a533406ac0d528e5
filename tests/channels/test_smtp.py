"""The SMTP receiver of a running `intake serve`, over loopback with smtplib."""

from __future__ import annotations

import smtplib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, SERVICE
from tests.serving import ServeProcess, wait_for


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    folder = tmp_path_factory.mktemp("serve")
    with ServeProcess(folder, INTAKE_MAX_MESSAGE_BYTES="200000") as proc:
        yield proc


def tickets(proc: ServeProcess) -> list[tuple[str, str]]:
    with sqlite3.connect(proc.folder / "intake.db") as connection:
        return connection.execute("SELECT number, subject FROM tickets ORDER BY id").fetchall()


def acks(proc: ServeProcess) -> list[Path]:
    return sorted((proc.folder / "outbox").glob("*.eml")) if (proc.folder / "outbox").exists() else []


def test_delivered_mail_becomes_a_ticket_and_an_ack_file(served: ServeProcess) -> None:
    raw = (FIXTURES / "ingest" / "en-question.eml").read_bytes()
    with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=10) as client:
        code, _ = client.ehlo()
        assert code == 250
        assert client.sendmail("ann@mill.example.com", [SERVICE], raw) == {}
    rows = wait_for(lambda: [t for t in tickets(served) if "SNMP" in t[1]])
    number = rows[0][0]
    ack = wait_for(lambda: [p for p in acks(served) if number in p.read_bytes().decode("ascii", "replace")])
    assert ack


def test_relay_attempt_gets_550(served: ServeProcess) -> None:
    with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=10) as client, \
            pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.sendmail("x@evil.example", ["victim@elsewhere.example"], b"Subject: hi\r\n\r\nrelay me\r\n")
    (code, reply), = refused.value.recipients.values()
    assert code == 550 and b"Relaying denied" in reply


def test_unknown_mailbox_in_our_domain_gets_550(served: ServeProcess) -> None:
    with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=10) as client:
        client.ehlo()
        client.mail("ann@mill.example.com")
        code, _ = client.rcpt("nobody@support.example")
    assert code == 550


def test_oversize_message_gets_552(served: ServeProcess) -> None:
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 300
    with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=10) as client, \
            pytest.raises(smtplib.SMTPSenderRefused) as refused:  # SIZE= is announced, refused at MAIL
        client.sendmail("ann@mill.example.com", [SERVICE], big)
    assert refused.value.smtp_code == 552
    with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=10) as client:
        client.ehlo()
        client.esmtp_features.pop("size", None)  # a client that does not announce SIZE: refused after DATA
        with pytest.raises(smtplib.SMTPDataError) as refused_data:
            client.sendmail("ann@mill.example.com", [SERVICE], big)
    assert refused_data.value.smtp_code == 552


def test_store_failure_answers_451_and_nothing_is_lost(served: ServeProcess) -> None:
    raw = (b"From: li@plant.example.cn\r\nTo: service@support.example\r\nSubject: store-failure probe\r\n"
           b"Message-ID: <store-failure-probe@plant.example.cn>\r\n\r\nThe UPS alarm is on.\r\n")
    database = sqlite3.connect(served.folder / "intake.db", isolation_level=None)
    database.execute("ALTER TABLE raw_inputs RENAME TO raw_inputs_away")
    try:
        with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=30) as client, \
                pytest.raises(smtplib.SMTPDataError) as failed:
            client.sendmail("li@plant.example.cn", [SERVICE], raw)
        assert failed.value.smtp_code == 451
    finally:
        database.execute("ALTER TABLE raw_inputs_away RENAME TO raw_inputs")
        database.close()
    with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=30) as client:  # the sender's retry
        assert client.sendmail("li@plant.example.cn", [SERVICE], raw) == {}
    assert wait_for(lambda: [t for t in tickets(served) if t[1] == "store-failure probe"])


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    proc = ServeProcess(tmp_path).start()
    assert proc.stop() == 0
    assert "Traceback" not in proc.log()
