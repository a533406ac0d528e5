"""`intake ingest` of files: each message arrives when its own headers say, so old mail imported starts no new
SLA clocks and gets no acknowledgement, while --received-at still names one time for all."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.cli.conftest import Run, as_json, as_lines
from tests.mailmaker import make_mail

SHANGHAI = ZoneInfo("Asia/Shanghai")


def delivered(subject: str, body: str, arrived: datetime, sender: str = "ann@mill.example.com") -> bytes:
    """A message as our MTA stored it: its Received: on top, stamped in Shanghai time, the sender's Date: below."""
    hop = (f"Received: from mx.mill.example.com (mx.mill.example.com [192.0.2.7])\r\n"
           f"\tby mx.support.example (Postfix) with ESMTPS id 4Xk2;\r\n"
           f"\t{format_datetime(arrived.astimezone(SHANGHAI))}\r\n")
    sent = format_datetime(arrived - timedelta(minutes=3))
    return hop.encode() + make_mail(subject, body, sender, headers={"Date": sent})


def now_s() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def shown_ticket(cli: Run, number: str) -> dict:
    code, out, _ = cli("tickets", "show", number, "--json")
    assert code == 0
    return as_json(out)


def test_mail_from_two_months_ago_keeps_its_arrival_and_gets_no_ack(cli: Run, tmp_path: Path) -> None:
    old_at, recent_at = now_s() - timedelta(days=61), now_s() - timedelta(hours=1)
    (tmp_path / "old.eml").write_bytes(delivered("Core switch down", "The core switch is down.", old_at))
    (tmp_path / "recent.eml").write_bytes(delivered("Fan alarm", "Fan 2 alarm.", recent_at, "bob@mill.example.com"))
    code, out, _ = cli("ingest", str(tmp_path / "old.eml"), str(tmp_path / "recent.eml"), "--json")
    old, recent = as_lines(out)
    assert code == 0 and old["status"] == recent["status"] == "created"
    assert old["reason"] == (f"not acknowledged: arrived {old_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (UTC+08:00), "
                             "more than 3 days ago")
    assert recent["reason"] is None
    assert datetime.fromisoformat(shown_ticket(cli, old["ticket"])["received_at"]) == old_at
    assert datetime.fromisoformat(shown_ticket(cli, recent["ticket"])["received_at"]) == recent_at

    code, out, _ = cli("jobs", "run-due", "--json")
    ran = as_json(out)
    assert code == 0
    assert [(row["kind"], row["ticket"], row["status"]) for row in ran if row["kind"] == "ack"] == [
        ("ack", recent["ticket"], "sent")]
    assert all(row["ticket"] != old["ticket"] for row in ran)  # nor its long-breached SLA clocks
    _, out, _ = cli("outbox", "list", "--json")
    assert [row["ticket"] for row in as_json(out) if row["kind"] == "ack"] == [recent["ticket"]]


def test_date_header_without_received_and_never_in_the_future(cli: Run, tmp_path: Path) -> None:
    written = now_s() - timedelta(days=1)
    (tmp_path / "dated.eml").write_bytes(make_mail("Disk alarm", "Disk 3.", headers={"Date": format_datetime(written)}))
    (tmp_path / "ahead.eml").write_bytes(make_mail("PSU alarm", "PSU 2.", "bob@mill.example.com",
                                                   headers={"Date": format_datetime(now_s() + timedelta(days=30))}))
    before = now_s()
    _, out, _ = cli("ingest", str(tmp_path / "dated.eml"), str(tmp_path / "ahead.eml"), "--json")
    dated, ahead = as_lines(out)
    assert datetime.fromisoformat(shown_ticket(cli, dated["ticket"])["received_at"]) == written
    clamped = datetime.fromisoformat(shown_ticket(cli, ahead["ticket"])["received_at"])
    assert before <= clamped <= now_s() + timedelta(seconds=1)
    assert dated["reason"] is None and ahead["reason"] is None  # both acknowledged


def test_received_at_names_one_time_for_all(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "old.eml").write_bytes(delivered("Core switch down", "Down.", now_s() - timedelta(days=61)))
    _, out, _ = cli("ingest", str(tmp_path / "old.eml"), "--received-at", "2026-02-13T17:30:00+08:00", "--json")
    row, = as_lines(out)
    assert shown_ticket(cli, row["ticket"])["received_at"] == "2026-02-13T17:30:00+08:00"


def test_mbox_and_maildir_messages_keep_their_own_arrival(cli: Run, tmp_path: Path) -> None:
    arrivals = [now_s() - timedelta(days=40), now_s() - timedelta(days=20)]
    box = mailbox.mbox(tmp_path / "archive.mbox")
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for n, arrived in enumerate(arrivals):
        box.add(delivered(f"mbox mail {n}", f"Body {n}.", arrived))
        maildir.add(delivered(f"maildir mail {n}", f"Body {n}.", arrived, f"m{n}@mill.example.com"))
    box.close()
    _, out, _ = cli("ingest", str(tmp_path / "archive.mbox"), str(tmp_path / "Maildir"), "--json")
    rows = as_lines(out)
    assert [row["status"] for row in rows] == ["created"] * 4
    received = sorted(datetime.fromisoformat(shown_ticket(cli, row["ticket"])["received_at"]) for row in rows)
    assert received == sorted(arrivals * 2)


def test_a_duplicate_names_its_ticket(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(make_mail("Fan alarm", "Fan 2 alarm."))
    _, out, _ = cli("ingest", str(tmp_path / "a.eml"), "--json")
    first, = as_lines(out)
    _, out, _ = cli("ingest", str(tmp_path / "a.eml"), "--json")
    again, = as_lines(out)
    assert (again["status"], again["ticket"]) == ("duplicate", first["ticket"])
    assert again["reason"] == f"already stored as raw input 1 (processed), on ticket {first['ticket']}"
