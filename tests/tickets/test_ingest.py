"""The pipeline end to end on the store: tickets, acks, threads, duplicates, suppression, quarantine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pipeline.records import IngestStatus, RawInput
from pipeline.runtime import Runtime
from pipeline.store import models
from pipeline.tickets import ingest
from tests.conftest import FIXTURES
from tests.mailmaker import make_mail

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def processed_as_it_arrives(runtime: Runtime) -> None:
    """Mail is processed at NOW, as it arrives: its ack is due then (a test that says otherwise moves the clock)."""
    runtime.clock = lambda: NOW


def items(*raws: bytes, at: datetime = NOW) -> list[RawInput]:
    return [RawInput(raw=raw, source=f"m{i}", received_at=at) for i, raw in enumerate(raws)]


def count(rt: Runtime, model: type) -> int:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def ack_jobs(rt: Runtime) -> list[models.Job]:
    with rt.sessions() as session:
        return list(session.scalars(select(models.Job).where(models.Job.kind == "ack").order_by(models.Job.id)))


def test_chinese_and_english_mail_become_tickets_with_acks_in_their_language(runtime: Runtime) -> None:
    zh = (FIXTURES / "ingest" / "zh-outage.eml").read_bytes()
    en = (FIXTURES / "ingest" / "en-question.eml").read_bytes()
    first = ingest.ingest(runtime, items(zh, en))
    assert [r.status for r in first] == [IngestStatus.CREATED, IngestStatus.CREATED]
    assert [r.language for r in first] == ["zh-Hans", "en"]
    assert first[0].severity == 1
    acks = ack_jobs(runtime)
    assert [a.language for a in acks] == ["zh-Hans", "en"]
    for result, ack in zip(first, acks, strict=True):
        assert result.ticket and result.ticket in (ack.subject or "")
    assert "您好" in (acks[0].body_text or "") and "宕机" in (acks[0].subject or "")
    assert (acks[1].body_text or "").startswith("Dear Ann Lee")
    again = ingest.ingest(runtime, items(zh, en))
    assert [r.status for r in again] == [IngestStatus.DUPLICATE, IngestStatus.DUPLICATE]
    assert [r.ticket for r in again] == [r.ticket for r in first]
    assert count(runtime, models.Ticket) == 2 and len(ack_jobs(runtime)) == 2


def test_a_duplicate_names_the_ticket_its_first_copy_went_to(runtime: Runtime) -> None:
    raw = make_mail("Fan alarm", "Fan 2 alarm.")
    first, = ingest.ingest(runtime, items(raw))
    again, = ingest.ingest(runtime, items(raw))
    assert (again.status, again.ticket, again.ticket_id) == ("duplicate", first.ticket, first.ticket_id)
    assert again.reason == f"already stored as raw input {first.raw_id} (processed), on ticket {first.ticket}"
    assert again.as_dict()["ticket"] == first.ticket
    other = make_mail("Disk full", "Disk 1 is full.")  # twice in one batch: the copy names what the first became
    one, two = ingest.ingest(runtime, items(other, other))
    assert (one.status, two.status, two.ticket) == ("created", "duplicate", one.ticket)
    assert two.reason == f"already stored as raw input {one.raw_id} (processed), on ticket {one.ticket}"


def test_a_duplicate_of_a_quarantined_message_has_no_ticket(runtime: Runtime,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipeline.mail.parse.parse_mail", lambda *args, **kwargs: 1 / 0)
    raw = make_mail("Quarantine me", "Body.")
    first, copy = ingest.ingest(runtime, items(raw, raw))
    again, = ingest.ingest(runtime, items(raw))
    assert first.status == "quarantined"
    for duplicate in (copy, again):
        assert (duplicate.status, duplicate.ticket) == ("duplicate", None)
        assert duplicate.reason == f"already stored as raw input {first.raw_id} (quarantined)"


def test_same_content_without_message_id_is_a_duplicate(runtime: Runtime) -> None:
    raw = make_mail(message_id=None)
    assert [r.status for r in ingest.ingest(runtime, items(raw, raw))] == ["created", "duplicate"]


def test_traditional_chinese_customer_gets_the_traditional_template(runtime: Runtime) -> None:
    result, = ingest.ingest(runtime, items((FIXTURES / "ingest" / "zh-hant-degraded.eml").read_bytes()))
    assert result.language == "zh-Hant"
    assert "我們已收到您的來信" in (ack_jobs(runtime)[0].body_text or "")


def test_reply_by_subject_number_or_in_reply_to_is_appended(runtime: Runtime) -> None:
    created, = ingest.ingest(runtime, items(make_mail("Controller offline", "The controller is down.")))
    ack = ack_jobs(runtime)[0]
    by_subject = make_mail(f"Re: {ack.subject}", "Here are the logs you asked for.")
    by_header = make_mail("logs", "More logs.", headers={"In-Reply-To": f"<{ack.message_id}>"})
    results = ingest.ingest(runtime, items(by_subject, by_header))
    assert [(r.status, r.ticket) for r in results] == [("appended", created.ticket), ("appended", created.ticket)]
    assert count(runtime, models.Ticket) == 1 and len(ack_jobs(runtime)) == 1


def test_reply_to_a_resolved_ticket_reopens_it(runtime: Runtime) -> None:
    created, = ingest.ingest(runtime, items(make_mail("Fan alarm", "Fan 2 alarm on the chassis.")))
    with runtime.sessions.begin() as session:
        ticket = session.scalar(select(models.Ticket))
        assert ticket is not None
        ticket.status, ticket.resolved_at = "resolved", NOW
    reply, = ingest.ingest(runtime, items(make_mail(f"回复: [{created.ticket}] Fan alarm", "风扇又报警了。")))
    assert (reply.status, reply.reason) == ("appended", "reopened")
    with runtime.sessions() as session:
        assert session.scalar(select(models.Ticket.status)) == "open"


def test_auto_reply_is_stored_on_its_ticket_but_never_acknowledged(runtime: Runtime) -> None:
    created, = ingest.ingest(runtime, items(make_mail("Disk failure", "Disk 3 failed.")))
    ack = ack_jobs(runtime)[0]
    ooo = make_mail(f"自动回复: {ack.subject}", "我目前休假，将于下周一返回。",
                    headers={"Auto-Submitted": "auto-replied", "In-Reply-To": f"<{ack.message_id}>"})
    result, = ingest.ingest(runtime, items(ooo))
    assert result.status == "suppressed" and result.ticket == created.ticket and result.reason
    assert len(ack_jobs(runtime)) == 1


def test_acks_to_one_sender_are_rate_limited(runtime: Runtime) -> None:
    runtime.clock = lambda: NOW
    mails = [make_mail(f"Problem {i}", f"Distinct problem number {i}.") for i in range(7)]
    results = ingest.ingest(runtime, items(*mails))
    assert [r.status for r in results] == ["created"] * 7
    assert len(ack_jobs(runtime)) == 5
    assert results[6].reason and "rate limit" in results[6].reason
    runtime.clock = lambda: NOW + timedelta(hours=2)  # the limit counts acks of the last hour
    later, = ingest.ingest(runtime, items(make_mail("Problem 8", "Another one.")))
    assert later.status == "created" and later.reason is None and len(ack_jobs(runtime)) == 6


def test_oversize_mail_is_quarantined_with_its_reason_and_can_be_retried(runtime: Runtime,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    boom = RuntimeError("parser exploded")

    def broken(*args: object, **kwargs: object) -> None:
        raise boom

    monkeypatch.setattr("pipeline.mail.parse.parse_mail", broken)
    result, = ingest.ingest(runtime, items(make_mail("Quarantine me", "Body.")))
    assert result.status == "quarantined" and "parser exploded" in (result.reason or "")
    monkeypatch.undo()
    retried = ingest.retry_quarantined(runtime, result.raw_id or 0)
    assert retried.status == "created"
    assert count(runtime, models.Ticket) == 1


def test_header_injection_is_neutralised_in_the_ack(runtime: Runtime) -> None:
    nasty = make_mail("Hello\r\nBcc: victim@elsewhere.example <script>alert(1)</script>", "body")
    ingest.ingest(runtime, items(nasty))
    ack = ack_jobs(runtime)[0]
    assert "\n" not in (ack.subject or "") and "\r" not in (ack.subject or "")
    assert "<script>" not in (ack.body_html or "") and "&lt;script&gt;" in (ack.body_html or "")


def bounce_of(ack: models.Job) -> bytes:
    """A DSN (RFC 3464) reporting that our ack could not be delivered, quoting its headers."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.mill.example.com>\r\n"
        "To: service@support.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.mill.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.mill.example.com\r\n\r\n"
        "Final-Recipient: rfc822; ann@mill.example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: service@support.example\r\nTo: ann@mill.example.com\r\nSubject: {ack.subject}\r\n"
        f"Message-ID: <{ack.message_id}>\r\n"
        "--B--\r\n"
    ).encode()


def test_a_bounce_of_our_ack_is_linked_to_its_ticket_and_not_answered(runtime: Runtime) -> None:
    created, = ingest.ingest(runtime, items(make_mail("PSU alarm", "Power supply 2 alarm.")))
    result, = ingest.ingest(runtime, items(bounce_of(ack_jobs(runtime)[0])))
    assert (result.status, result.ticket) == ("suppressed", created.ticket)
    assert result.reason and result.reason.startswith("bounce")
    assert len(ack_jobs(runtime)) == 1


def test_mail_from_our_own_address_is_never_acknowledged(runtime: Runtime) -> None:
    result, = ingest.ingest(runtime, items(make_mail("Loop?", "Our own mail.", "service@support.example")))
    assert result.status == "suppressed" and ack_jobs(runtime) == []


def test_unrelated_mail_from_the_same_customer_opens_a_new_ticket(runtime: Runtime) -> None:
    first, second = ingest.ingest(runtime, items(make_mail("Fan alarm", "Fan 1."), make_mail("Disk full", "Disk.")))
    assert first.status == second.status == "created" and first.ticket != second.ticket


def test_a_question_about_a_printer_is_no_outage(runtime: Runtime) -> None:
    question, outage = ingest.ingest(runtime, items(
        make_mail("打印机", "请问打印机无法连接网络怎么办？"),
        make_mail("网络故障", "全厂网络无法连接，业务中断", "wang@plant.example.cn")))
    assert (question.severity, outage.severity) == (3, 1)
