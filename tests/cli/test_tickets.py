"""`intake tickets respond` and `onsite`: the first response and the engineer's arrival stop their clocks and
cancel what those still owed; each is recorded once (or corrected), never before the ticket arrived nor in
the future, and the ticket is printed with its clocks."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    assert "        sla onsite: none (not promised)\n" in out
    shown = as_json(cli("tickets", "show", number, "--json")[1])
    assert shown["onsite_due"] is None and shown["onsite_at"] == "2026-03-02T11:00:00+08:00"
    assert shown["sla"]["onsite"] == {"due": None, "state": "none", "time_left_s": None, "paused": False}
    code, out, _ = cli("tickets", "show", number)
    assert code == 0 and "        sla onsite: none (not promised)\n" in out


def test_a_level_without_an_onsite_target_is_not_running(cli: Run, tmp_path: Path) -> None:
    number = outage(cli, tmp_path)
    shown = as_json(cli("tickets", "severity", number, "4", "--at", RECEIVED, "--json")[1])
    assert shown["sla"]["onsite"] == {"due": None, "state": "none", "time_left_s": None, "paused": False}


def test_unknown_ticket(cli: Run) -> None:
    code, out, err = cli("tickets", "onsite", "SR-999999")
    assert code == 3 and out == "" and "SR-999999" in err


@pytest.mark.parametrize(("verb", "at", "error"), [
    ("respond", "2026-03-02T09:00:00+08:00",
     "--at 2026-03-02T09:00:00+08:00 is before the ticket arrived (2026-03-02T10:00:00+08:00)"),
    ("onsite", "2026-03-02T01:59:59+00:00",
     "--at 2026-03-02T09:59:59+08:00 is before the ticket arrived (2026-03-02T10:00:00+08:00)"),
    ("respond", "2099-03-02T10:00:00+08:00", "--at 2099-03-02T10:00:00+08:00 is in the future (now "),
])
def test_an_impossible_time_is_refused(cli: Run, tmp_path: Path, verb: str, at: str, error: str) -> None:
    number = outage(cli, tmp_path)
    code, out, err = cli("tickets", verb, number, "--at", at, "--json")
    assert (code, out) == (2, "") and err.startswith(f"intake: {number}: {error}") and err.count("\n") == 1
    shown = as_json(cli("tickets", "show", number, "--json")[1])
    assert (shown["first_response_at"], shown["onsite_at"]) == (None, None)


@pytest.mark.parametrize(
    ("verb", "field", "clock", "what", "first", "then", "corrected", "late_s"),
    [
        ("respond", "first_response_at", "response", "response", "10:10", "10:12", "10:20", -300),
        ("onsite", "onsite_at", "onsite", "arrival on site", "11:00", "11:30", "12:30", -1800),
    ],
)
def test_a_second_record_keeps_the_first_and_says_so_unless_corrected(
        cli: Run, tmp_path: Path, verb: str, field: str, clock: str, what: str, first: str, then: str,
        corrected: str, late_s: int) -> None:
    number = outage(cli, tmp_path)
    cli("jobs", "run-due", "--now", RECEIVED)
    day = "2026-03-02T"
    code, out, err = cli("tickets", verb, number, "--at", f"{day}{first}:00+08:00", "--json")
    recorded = as_json(out)
    assert (code, err, recorded[field], recorded["already_recorded"]) == (0, "", f"{day}{first}:00+08:00", False)
    assert recorded["sla"][clock]["state"] == "met"
    planned = reminders(cli)

    code, out, err = cli("tickets", verb, number, "--at", f"{day}{then}:00+08:00")
    assert code == 0 and err == (f"intake: {number}: {what} already recorded at {day}{first}:00+08:00; "
                                 "kept (--correct replaces it)\n")
    assert f"{field:>18}: {day}{first}:00+08:00\n" in out and "  already_recorded: True\n" in out
    kept = as_json(cli("tickets", verb, number, "--at", f"{day}{then}:00+08:00", "--json")[1])
    assert (kept[field], kept["already_recorded"], kept["sla"][clock]["state"]) == (
        f"{day}{first}:00+08:00", True, "met")
    assert reminders(cli) == planned

    code, out, err = cli("tickets", verb, number, "--at", f"{day}{corrected}:00+08:00", "--correct", "--json")
    fixed = as_json(out)
    assert (code, err, fixed[field], fixed["already_recorded"]) == (0, "", f"{day}{corrected}:00+08:00", False)
    assert (fixed["sla"][clock]["state"], fixed["sla"][clock]["time_left_s"]) == ("breached", late_s)
    assert reminders(cli) == planned  # the clock stopped either way: what it owed stays cancelled
    shown = as_json(cli("tickets", "show", number, "--json")[1])
    assert (shown[field], shown["sla"][clock]["state"]) == (f"{day}{corrected}:00+08:00", "breached")


def test_a_change_prints_the_clocks(cli: Run, tmp_path: Path) -> None:
    number = outage(cli, tmp_path)
    code, out, _ = cli("tickets", "respond", number, "--at", "2026-03-02T10:10:00+08:00")
    assert code == 0 and out.endswith(
        "      sla response: met, due 2026-03-02T10:15:00+08:00\n"
        "        sla onsite: running, due 2026-03-02T12:00:00+08:00, 110 min left\n"
        "       sla resolve: running, due 2026-03-02T14:00:00+08:00, 230 min left\n")
    code, out, _ = cli("tickets", "wait", number, "--at", "2026-03-02T11:00:00+08:00")
    assert code == 0 and out.endswith("       sla resolve: running, due 2026-03-02T14:00:00+08:00, 180 min left "
                                      "(paused)\n")
