"""`intake reminders list`, `visits list`, `jobs run-due` and the clocks of `tickets wait/resume`, as JSON."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run, as_json
from tests.mailmaker import make_mail


def ingest(cli: Run, tmp_path: Path, received: str) -> str:
    path = tmp_path / "mail.eml"
    path.write_bytes(make_mail("Board alarm", "Board 3 shows an alarm, how do I clear it?", "ann@mill.example.com"))
    rows = as_json(cli("ingest", str(path), "--received-at", received, "--json")[1])
    row, = rows if isinstance(rows, list) else [rows]
    return row["ticket"]


def test_waiting_over_a_weekend_adds_only_business_time(cli: Run, tmp_path: Path) -> None:
    number = ingest(cli, tmp_path, "2026-03-05T10:00:00+08:00")  # Thursday; 8x5 (no customer: the default)
    shown = as_json(cli("tickets", "show", number, "--json")[1])
    assert (shown["severity"], shown["resolve_due"]) == (3, "2026-03-09T17:00:00+08:00")  # 24 business hours
    cli("tickets", "wait", number, "--at", "2026-03-06T17:00:00+08:00")  # Friday, half an hour before closing
    shown = as_json(cli("tickets", "show", number, "--json")[1])
    assert shown["status"] == "waiting" and shown["sla"]["resolve"]["paused"] is True
    resumed = as_json(cli("tickets", "resume", number, "--at", "2026-03-09T09:00:00+08:00", "--json")[1])
    # the weekend does not count: the clock moves by the half hour of Friday, not by 64 hours
    assert (resumed["status"], resumed["resolve_due"]) == ("open", "2026-03-09T17:30:00+08:00")


def test_listings_have_the_public_fields(cli: Run, tmp_path: Path) -> None:
    number = ingest(cli, tmp_path, "2026-03-02T10:00:00+08:00")
    code, out, _ = cli("jobs", "run-due", "--now", "2026-03-03T12:00:00+08:00", "--json")
    ran = as_json(out)
    assert code == 0 and ran and {"id", "kind", "ticket", "due_at", "recipient", "channel", "status",
                                  "detail"} <= set(ran[0])
    assert {row["ticket"] for row in ran} == {number}
    reminders = as_json(cli("reminders", "list", "--json")[1])
    assert {"kind", "ticket", "due_at", "recipient", "channel", "status"} <= set(reminders[0])
    assert [r["due_at"] for r in reminders] == sorted(r["due_at"] for r in reminders)
    assert all(r["due_at"].endswith("+08:00") for r in reminders)
    sent = as_json(cli("reminders", "list", "--status", "sent", "--json")[1])
    assert {r["id"] for r in sent} == {r["id"] for r in ran if r["status"] == "sent"}
    cli("tickets", "resolve", number, "--at", "2026-03-03T15:00:00+08:00")
    visits = as_json(cli("visits", "list", "--json")[1])
    assert [{k: v[k] for k in ("kind", "customer", "ticket", "date", "status")} for v in visits] == [
        {"kind": "revisit", "customer": None, "ticket": number, "date": "2026-03-06", "status": "planned"}]
    assert as_json(cli("visits", "list", "--kind", "survey", "--json")[1]) == []
