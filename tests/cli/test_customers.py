"""`intake customers import` that changes a customer's tier or policy overrides: its open tickets get new
deadlines and their reminders move at once; resolved tickets keep theirs."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run, as_json
from tests.mailmaker import make_mail

HEADER = "name,emails,domains,phones,tier,manager_email,timezone"
RECEIVED = "2026-03-02T10:00:00+08:00"  # a Monday


def import_csv(cli: Run, tmp_path: Path, *lines: str) -> tuple[int, str, str]:
    """Import a file an hour after the tickets arrived (tickets are replanned as of then)."""
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cli("customers", "import", str(path), "--at", "2026-03-02T11:00:00+08:00")


def question(cli: Run, tmp_path: Path, subject: str) -> str:
    path = tmp_path / f"{subject}.eml"
    path.write_bytes(make_mail(subject, "The board shows an alarm, how do I clear it?", "ann@mill.example.com"))
    row, = as_json(cli("ingest", str(path), "--received-at", RECEIVED, "--json")[1])
    return row["ticket"]


def pending(cli: Run, number: str) -> dict[str, list[str]]:
    """kind -> the times (HH:MM on day DD) of the ticket's pending SLA warnings and escalations, soonest first."""
    rows = as_json(cli("reminders", "list", "--status", "pending", "--json")[1])
    found: dict[str, list[str]] = {}
    for r in rows:
        if r["ticket"] == number and r["kind"].startswith("sla_"):
            assert r["due_at"].startswith("2026-03-") and r["due_at"].endswith("+08:00")
            found.setdefault(r["kind"], []).append(f"{r['due_at'][8:10]} {r['due_at'][11:19]}")
    return found


def show(cli: Run, number: str) -> dict:
    return as_json(cli("tickets", "show", number, "--json")[1])


def test_a_new_tier_moves_open_tickets_and_their_reminders(cli: Run, tmp_path: Path) -> None:
    mill_8x5 = "Mill Co,ann@mill.example.com,mill.example.com,,8x5,boss@support.example,Asia/Shanghai"
    assert import_csv(cli, tmp_path, HEADER, mill_8x5)[1] == (
        "imported 1 customer(s), rejected 0 row(s), recomputed the deadlines of 0 open ticket(s)\n")
    opened, resolved = question(cli, tmp_path, "Board alarm"), question(cli, tmp_path, "Shelf alarm")
    cli("tickets", "resolve", resolved, "--at", "2026-03-02T11:00:00+08:00")
    cli("jobs", "run-due", "--now", RECEIVED)
    before = show(cli, opened)
    assert (before["tier"], before["severity"], before["resolve_due"]) == ("8x5", 3, "2026-03-04T17:00:00+08:00")
    # at 75% in business time: response 2 h, on site by Tuesday's close (16 h), restored in 24 business hours
    assert pending(cli, opened) == {"sla_warning": ["02 11:30:00", "03 13:30:00", "04 11:00:00"],
                                    "sla_escalation": ["02 12:00:00", "03 17:30:00", "04 17:00:00"]}

    code, out, _ = import_csv(cli, tmp_path, HEADER, mill_8x5.replace("8x5", "24x7"))
    assert (code, out) == (0, "imported 1 customer(s), rejected 0 row(s), "
                              "recomputed the deadlines of 1 open ticket(s)\n")
    after = show(cli, opened)
    assert (after["tier"], after["response_due"], after["onsite_due"], after["resolve_due"]) == (
        "24x7", "2026-03-02T12:00:00+08:00", "2026-03-03T17:30:00+08:00", "2026-03-03T10:00:00+08:00")
    assert after["sla"]["resolve"]["due"] == "2026-03-03T10:00:00+08:00"
    # the same jobs, moved to the wall clock: 75% of 2 h, of 31.5 h and of 24 h
    assert pending(cli, opened) == {"sla_warning": ["02 11:30:00", "03 04:00:00", "03 09:37:30"],
                                    "sla_escalation": ["02 12:00:00", "03 10:00:00", "03 17:30:00"]}
    assert pending(cli, resolved) == {}
    kept = show(cli, resolved)
    assert (kept["tier"], kept["resolve_due"], kept["status"]) == ("8x5", "2026-03-04T17:00:00+08:00", "resolved")


def test_a_customers_own_warn_share_moves_its_warnings(cli: Run, tmp_path: Path) -> None:
    mill = "Mill Co,ann@mill.example.com,mill.example.com,,24x7,,Asia/Shanghai"
    import_csv(cli, tmp_path, HEADER, mill)
    number = question(cli, tmp_path, "Board alarm")
    cli("jobs", "run-due", "--now", RECEIVED)
    at_75 = {"sla_warning": ["02 11:30:00", "03 04:00:00", "03 09:37:30"],
             "sla_escalation": ["02 12:00:00", "03 10:00:00", "03 17:30:00"]}
    assert pending(cli, number) == at_75

    code, out, _ = import_csv(cli, tmp_path, f"{HEADER},policy_overrides",
                              f'{mill},"{{""sla"": {{""warn_share"": 0.5}}}}"')
    assert code == 0 and out.endswith("recomputed the deadlines of 1 open ticket(s)\n")
    at_50 = {"sla_warning": ["02 11:00:00", "02 22:00:00", "03 01:45:00"], "sla_escalation": at_75["sla_escalation"]}
    assert pending(cli, number) == at_50  # the deadlines stay, the warnings come at half time
    customer, = as_json(cli("customers", "list", "--json")[1])
    assert customer["policy_overrides"] == {"sla": {"warn_share": 0.5}}

    assert import_csv(cli, tmp_path, HEADER, mill)[1].endswith("of 0 open ticket(s)\n")  # no column: kept
    assert pending(cli, number) == at_50
    code, out, err = import_csv(cli, tmp_path, f"{HEADER},policy_overrides", f'{mill},"{{""sla"": 1}}"')
    assert code == 1 and "line 2: policy_overrides:" in err and out.startswith("imported 0 customer(s)")
    assert import_csv(cli, tmp_path, f"{HEADER},policy_overrides", f"{mill},")[1].endswith(
        "of 1 open ticket(s)\n")  # an empty cell clears them
    assert pending(cli, number) == at_75
