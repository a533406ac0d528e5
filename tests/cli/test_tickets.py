"""`intake tickets respond` and `onsite`: the first response and the engineer's arrival stop their clocks and
cancel what those still owed; each is recorded once (or corrected), never before the ticket arrived nor in
the future, and the ticket is printed with its clocks.

`tickets list` filters, `tickets note` and `tickets assign` run on SQLite and PostgreSQL (`on_db`): filters
combine, a note joins the ticket's history without answering anyone, an assignment moves no clock."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import pytest

from pipeline.runtime import Runtime
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


# list filters, notes, assignments, on SQLite and PostgreSQL ------------------------------------------------

@pytest.fixture
def on_db(cli: Run, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`cli` on the runtime's database: SQLite, and a clean PostgreSQL one when INTAKE_TEST_POSTGRES_URL is set."""
    monkeypatch.setenv("INTAKE_DATABASE_URL", runtime.settings.database_url)
    return cli


def mail(cli: Run, tmp_path: Path, subject: str, sender: str, *received_at: str) -> str:
    """A new ticket from one mail (received now unless a time is given); its number."""
    path = tmp_path / f"{subject}.eml"
    path.write_bytes(make_mail(subject, f"{subject}. Please help.", sender))
    at = ("--received-at", *received_at) if received_at else ()
    row, = as_json(cli("ingest", str(path), *at, "--json")[1])
    return row["ticket"]


def numbers(cli: Run, *options: str) -> list[str]:
    code, out, err = cli("tickets", "list", *options, "--json")
    assert (code, err) == (0, ""), err
    return [row["number"] for row in as_json(out)]


def test_list_filters_combine(on_db: Run, tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text("name,emails,domains,phones,tier,manager_email,timezone\n"
                   "华东电厂,,plant.example.cn,,24x7,,Asia/Shanghai\n", encoding="utf-8")
    assert on_db("customers", "import", str(csv))[0] == 0
    first = mail(on_db, tmp_path, "Boiler feed pump alarm", "ann@plant.example.cn", RECEIVED)
    second = mail(on_db, tmp_path, "Historian slow", "bob@plant.example.cn", RECEIVED)
    third = mail(on_db, tmp_path, "Licence question", "carl@elsewhere.example.com", RECEIVED)
    for number, level in ((first, "1"), (second, "3"), (third, "2")):
        assert on_db("tickets", "severity", number, level, "--at", RECEIVED)[0] == 0
    assert on_db("tickets", "resolve", third, "--at", "2026-03-02T11:00:00+08:00")[0] == 0
    assert on_db("tickets", "assign", first, "林工")[0] == 0

    assert numbers(on_db) == [third, second, first]
    assert numbers(on_db, "--severity", "1", "--severity", "3") == [second, first]
    assert numbers(on_db, "--severity", "3,1") == [second, first]
    assert numbers(on_db, "--customer", "华东电厂") == [second, first]
    assert numbers(on_db, "--customer", "-") == [third]
    assert numbers(on_db, "--channel", "email") == [third, second, first]
    assert numbers(on_db, "--channel", "phone") == []
    assert numbers(on_db, "--assignee", "林工") == [first]
    assert numbers(on_db, "--assignee", "-") == [third, second]
    assert numbers(on_db, "--status", "open", "--customer", "华东电厂", "--severity", "1,2") == [first]
    assert numbers(on_db, "--status", "resolved", "--assignee", "林工") == []
    assert numbers(on_db, "--limit", "2") == [third, second]
    assert numbers(on_db, "--customer", "华东电厂", "--limit", "1") == [second]

    code, out, err = on_db("tickets", "list", "--customer", "华东", "--json")  # the exact name only
    assert (code, as_json(out), err) == (0, [], "intake: no customer is named '华东': see `intake customers list`\n")
    code, out, _ = on_db("tickets", "list", "--assignee", "林工")
    header, row = out.splitlines()
    assert header.split()[-2:] == ["subject", "assignee"]
    assert row.startswith(first) and row.endswith("  Boiler feed pump alarm  林工")


@pytest.mark.parametrize("options", [("--severity", "5"), ("--severity", "1,x"), ("--limit", "0"),
                                     ("--channel", "fax")])
def test_a_wrong_filter_exits_2(cli: Run, options: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli("tickets", "list", *options)
    assert exited.value.code == 2


def test_overdue_lists_the_clocks_still_owed_past_their_due(on_db: Run, tmp_path: Path) -> None:
    def at(hh_mm: str, day: str = "2026-03-02") -> str:
        return f"{day}T{hh_mm}:00+08:00"

    forgotten = outage(on_db, tmp_path)  # long ago, and nothing done
    done = mail(on_db, tmp_path, "Core router down, the whole plant is offline", "bob@mill.example.com", RECEIVED)
    for verb, when in (("respond", "10:10"), ("onsite", "11:00"), ("resolve", "11:30")):
        assert on_db("tickets", verb, done, "--at", at(when))[0] == 0
    paused = mail(on_db, tmp_path, "How do I export the user list?", "carl@mill.example.com", RECEIVED)
    late_paused = mail(on_db, tmp_path, "How do I rotate the logs?", "dan@mill.example.com", RECEIVED)
    for number, waiting_since in ((paused, at("11:00")), (late_paused, at("10:00", "2026-04-30"))):
        for change in (("severity", number, "4", "--at", RECEIVED), ("respond", number, "--at", at("10:10")),
                       ("wait", number, "--at", waiting_since)):  # a question: nobody is promised on site
            assert on_db("tickets", *change)[0] == 0
    fresh = mail(on_db, tmp_path, "How do I add a user?", "eve@mill.example.com")

    assert numbers(on_db) == [fresh, late_paused, paused, done, forgotten]
    assert numbers(on_db, "--overdue") == [late_paused, forgotten]
    assert numbers(on_db, "--overdue", "--status", "waiting") == [late_paused]
    assert numbers(on_db, "--overdue", "--severity", "1") == [forgotten]
    assert numbers(on_db, "--overdue", "--limit", "1") == [late_paused]
    shown = {n: as_json(on_db("tickets", "show", n, "--json")[1])["sla"] for n in (forgotten, paused, late_paused)}
    assert shown[forgotten]["response"]["state"] == "breached" and shown[forgotten]["response"]["time_left_s"] < 0
    assert shown[paused]["resolve"]["state"] == "running" and shown[paused]["resolve"]["paused"]  # stands still
    assert shown[late_paused]["resolve"]["state"] == "breached" and shown[late_paused]["resolve"]["paused"]


def test_a_note_joins_the_history_and_answers_nobody(on_db: Run, tmp_path: Path) -> None:
    number = outage(on_db, tmp_path)
    on_db("jobs", "run-due")
    before = as_json(on_db("tickets", "show", number, "--json")[1])
    planned, outbox = reminders(on_db), as_json(on_db("outbox", "list", "--json")[1])

    code, out, err = on_db("tickets", "note", number, "  Called Ann: the spare switch leaves today.  ", "--by",
                           "王工", "--json")
    note = as_json(out)
    assert (code, err) == (0, "")
    assert {key: note[key] for key in ("ticket", "direction", "kind", "from", "subject", "text", "automatic")} == {
        "ticket": number, "direction": "internal", "kind": "note", "from": "王工", "subject": None,
        "text": "Called Ann: the spare switch leaves today.", "automatic": None}
    assert note["at"].endswith("+08:00")
    reply = tmp_path / "reply.eml"
    reply.write_bytes(make_mail(f"Re: [{number}] Core switch down", "Thanks, we wait for it.", "ann@mill.example.com"))
    assert on_db("ingest", str(reply))[0] == 0

    after = as_json(on_db("tickets", "show", number, "--json")[1])
    assert [(m["direction"], m["kind"]) for m in after["messages"]] == [
        (m["direction"], m["kind"]) for m in before["messages"]] + [("internal", "note"), ("in", "mail")]
    assert after["messages"][-2] == {key: value for key, value in note.items() if key != "ticket"}
    times = [m["at"] for m in after["messages"]]
    assert times == sorted(times)
    assert after["first_response_at"] is None and after["sla"]["response"]["state"] == "breached"
    assert reminders(on_db) == planned and as_json(on_db("outbox", "list", "--json")[1]) == outbox  # nothing sent
    code, out, _ = on_db("tickets", "show", number)
    assert code == 0 and f"\n--- internal note {note['at']} 王工\n" in out
    assert "\nCalled Ann: the spare switch leaves today.\n" in out

    unsigned = as_json(on_db("tickets", "note", number, "Parts ordered.", "--json")[1])
    assert unsigned["from"] == getpass.getuser()
    code, out, err = on_db("tickets", "note", number, "Parts ordered.")
    assert code == 0 and "              kind: note\n" in out and "              text: Parts ordered.\n" in out


@pytest.mark.parametrize(("args", "code", "error"), [
    (("note", "SR-999999", "text"), 3, "intake: no ticket SR-999999"),
    (("note", "{number}", "   "), 2, "intake: a note needs some text"),
    (("note", "{number}", "text", "--by", " "), 2, "intake: --by: expected a name of 1-200 characters"),
    (("assign", "SR-999999", "林工"), 3, "intake: no ticket SR-999999"),
    (("assign", "{number}", ""), 2, "intake: ENGINEER: expected a name of 1-200 characters"),
    (("assign", "{number}", "x" * 201), 2, "intake: ENGINEER: expected a name of 1-200 characters"),
])
def test_a_wrong_note_or_assignment_changes_nothing(cli: Run, tmp_path: Path, args: tuple[str, ...], code: int,
                                                    error: str) -> None:
    number = outage(cli, tmp_path)
    before = as_json(cli("tickets", "show", number, "--json")[1])
    got, out, err = cli("tickets", *(arg.format(number=number) for arg in args))
    assert (got, out, err.count("\n"), err.startswith(error)) == (code, "", 1, True), err
    after = as_json(cli("tickets", "show", number, "--json")[1])
    assert (after["messages"], after["assignee"]) == (before["messages"], None)


def test_assign_moves_no_clock(on_db: Run, tmp_path: Path) -> None:
    number = outage(on_db, tmp_path)
    on_db("jobs", "run-due")
    before, planned = as_json(on_db("tickets", "show", number, "--json")[1]), reminders(on_db)
    assert before["assignee"] is None

    code, out, err = on_db("tickets", "assign", number, " 林工 ", "--json")
    assigned = as_json(out)
    assert (code, err, assigned["assignee"]) == (0, "", "林工")
    assert set(before) - {"messages"} <= set(assigned)  # every field stays
    assert unchanged(assigned) == unchanged(before)
    assert reminders(on_db) == planned
    shown = as_json(on_db("tickets", "show", number, "--json")[1])
    assert shown["assignee"] == "林工" and unchanged(shown) == unchanged(before)
    listed, = as_json(on_db("tickets", "list", "--json")[1])
    assert listed["assignee"] == "林工"
    code, out, _ = on_db("tickets", "show", number)
    assert code == 0 and "          assignee: 林工\n" in out

    code, out, _ = on_db("tickets", "assign", number, "Li Wei")
    assert code == 0 and "          assignee: Li Wei\n" in out and "      sla response: breached, due " in out
    assert numbers(on_db, "--assignee", "Li Wei") == [number] and numbers(on_db, "--assignee", "林工") == []
    assert as_json(on_db("tickets", "assign", number, "-", "--json")[1])["assignee"] is None
    assert numbers(on_db, "--assignee", "-") == [number]
    assert reminders(on_db) == planned


def unchanged(row: dict[str, Any]) -> dict[str, Any]:
    """What an assignment must leave alone: the deadlines, the clocks' states, the rest of the ticket."""
    return {key: ({name: clock["state"] for name, clock in value.items()} if key == "sla" else value)
            for key, value in row.items() if key not in ("assignee", "messages")}
