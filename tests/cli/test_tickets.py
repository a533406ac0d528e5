"""`intake tickets onsite`: the engineer's arrival stops the on-site clock and cancels what it still owed."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run, as_json
from tests.mailmaker import make_mail

RECEIVED = "2026-03-02T10:00:00+08:00"  # a Monday; no customer: the 8x5 tier, level 1 (2 business hours on site)


def outage(cli: Run, tmp_path: Path) -> str:
    path = tmp_path / "outage.eml"
    path.write_bytes(make_mail("Core switch down", "The core switch is down, the whole plant is offline.",
                               "ann@mill.example.com"))
    row, = as_json(cli("ingest", str(path), "--received-at", RECEIVED, "--json")[1])
    return row["ticket"]


def reminders(cli: Run) -> dict[tuple[str, str], str]:
    """(kind, due_at) -> status of the SLA jobs."""
    rows = as_json(cli("reminders", "list", "--json")[1])
    return {(r["kind"], r["due_at"]): r["status"] for r in rows if r["kind"].startswith("sla_")}


def test_arrival_on_time_meets_the_clock_and_cancels_its_reminders(cli: Run, tmp_path: Path) -> None:
    number = outage(cli, tmp_path)
    assert cli("jobs", "run-due", "--now", RECEIVED)[0] == 0
    onsite_jobs = [("sla_warning", "2026-03-02T11:30:00+08:00"), ("sla_escalation", "2026-03-02T12:00:00+08:00")]
    before = reminders(cli)
    assert [before[job] for job in onsite_jobs] == ["pending", "pending"]
    code, out, err = cli("tickets", "onsite", number, "--at", "2026-03-02T11:00:00+08:00", "--json")
    shown = as_json(out)
    assert code == 0 and err == ""
    assert shown["onsite_at"] == "2026-03-02T11:00:00+08:00" and shown["status"] == "open"
    assert shown["sla"]["onsite"] == {"due": "2026-03-02T12:00:00+08:00", "state": "met", "time_left_s": 3600,
                                      "paused": False}
    after = reminders(cli)
    assert [after[job] for job in onsite_jobs] == ["cancelled", "cancelled"]
    assert {job: status for job, status in after.items() if job not in onsite_jobs} == {
        job: status for job, status in before.items() if job not in onsite_jobs}  # the other clocks run on
    shown = as_json(cli("tickets", "show", number, "--json")[1])
    assert shown["onsite_at"] == "2026-03-02T11:00:00+08:00" and shown["sla"]["onsite"]["state"] == "met"
    code, out, _ = cli("tickets", "show", number)
    assert code == 0 and "sla onsite: met, due 2026-03-02T12:00:00+08:00" in out


def test_late_arrival_is_a_breach(cli: Run, tmp_path: Path) -> None:
    number = outage(cli, tmp_path)
    shown = as_json(cli("tickets", "onsite", number, "--at", "2026-03-02T12:30:00+08:00", "--json")[1])
    assert (shown["sla"]["onsite"]["state"], shown["sla"]["onsite"]["time_left_s"]) == ("breached", -1800)


def test_a_level_without_an_onsite_target_says_so(cli: Run, tmp_path: Path) -> None:
    number = outage(cli, tmp_path)
    cli("tickets", "severity", number, "4", "--at", RECEIVED)  # a question: nobody is promised on site
    code, out, err = cli("tickets", "onsite", number, "--at", "2026-03-02T11:00:00+08:00")
    assert code == 0 and number in out  # the ticket after the change, as every change prints it
    assert err == (f"intake: {number}: level 4 promises no on-site arrival; arrival recorded at "
                   "2026-03-02T11:00:00+08:00\n")
    shown = as_json(cli("tickets", "show", number, "--json")[1])
    assert shown["onsite_due"] is None and shown["onsite_at"] == "2026-03-02T11:00:00+08:00"
    assert shown["sla"]["onsite"] == {"due": None, "state": "met", "time_left_s": None, "paused": False}


def test_unknown_ticket(cli: Run) -> None:
    code, out, err = cli("tickets", "onsite", "SR-999999")
    assert code == 3 and out == "" and "SR-999999" in err
