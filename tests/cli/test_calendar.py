"""China's calendar through the command line: `intake calendar`, the issue's deadline examples and the
15:00 spare-part cut-off, as a user sees them (`ingest --received-at`, `tickets severity`, `tickets show`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Run, as_json
from tests.mailmaker import make_mail

CUSTOMERS = ("name,emails,domains,phones,tier,manager_email,timezone\n"
             "Mill Co,ann@mill.example.com,mill.example.com,,8x5,boss@support.example,Asia/Shanghai\n"
             "华东电厂,wang@plant.example.cn,plant.example.cn,,24x7,li@support.example,Asia/Shanghai\n")


def ticket_of(out: str) -> str:
    """The ticket of the one message `intake ingest --json` reported (a JSON array or JSON Lines)."""
    rows = as_json(out)
    row, = rows if isinstance(rows, list) else [rows]
    return row["ticket"]


@pytest.mark.parametrize(
    ("day", "workday", "source"),
    [
        ("2026-02-14", True, "official"),  # Saturday, make-up day (调休)
        ("2026-02-23", False, "official"),  # Monday, Spring Festival in lieu
        ("2026-02-24", True, "official"),
        ("2027-02-10", False, "estimated"),  # not yet published: holidays.China's guess
    ],
)
def test_is_workday(cli: Run, day: str, workday: bool, source: str) -> None:
    code, out, _ = cli("calendar", "is-workday", day, "--json")
    assert code == 0
    assert as_json(out) == {"date": day, "workday": workday, "source": source,
                            "weekday": as_json(out)["weekday"]}


def test_next_workday_and_overrides(cli: Run, tmp_path: Path) -> None:
    code, out, _ = cli("calendar", "next-workday", "2026-02-14")
    assert code == 0 and out.strip() == "2026-02-24 (Tuesday) [official]"
    (tmp_path / "intake.toml").write_text(
        '[policy.calendar]\nextra_holidays = ["2026-02-24"]\nextra_workdays = ["2027-02-13"]\n', encoding="utf-8")
    assert as_json(cli("calendar", "next-workday", "2026-02-14", "--json")[1]) == {
        "date": "2026-02-14", "next_workday": "2026-02-25", "weekday": "Wednesday", "source": "override"}
    assert as_json(cli("calendar", "is-workday", "2027-02-13", "--json")[1])["source"] == "override"
    code, _, err = cli("calendar", "is-workday", "14/02/2026")
    assert code == 2 and "not a date" in err


@pytest.fixture
def customers(cli: Run, tmp_path: Path) -> Run:
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    assert cli("customers", "import", str(tmp_path / "customers.csv"))[0] == 0
    return cli


def ingest(cli: Run, tmp_path: Path, sender: str, subject: str, body: str, received: str) -> str:
    path = tmp_path / f"{abs(hash((sender, subject, received)))}.eml"
    path.write_bytes(make_mail(subject, body, sender))
    code, out, _ = cli("ingest", str(path), "--received-at", received, "--json")
    assert code == 0
    return ticket_of(out)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2026-02-13T17:30:00+08:00", "2026-02-14T17:30:00+08:00"),  # Friday close -> make-up Saturday
        ("2026-02-14T18:00:00+08:00", "2026-02-24T17:30:00+08:00"),  # Saturday evening -> after the festival
    ],
)
def test_8x5_response_due_by_close_of_the_next_working_day(customers: Run, tmp_path: Path, received: str,
                                                           due: str) -> None:
    number = ingest(customers, tmp_path, "ann@mill.example.com", "Question on upgrade",
                    "Which version should we upgrade to?", received)
    assert customers("tickets", "severity", number, "4", "--json")[0] == 0
    shown = as_json(customers("tickets", "show", number, "--json")[1])
    assert (shown["tier"], shown["severity"], shown["received_at"]) == ("8x5", 4, received)
    assert shown["response_due"] == due
    assert shown["sla"]["response"]["due"] == due


def test_24x7_level_1_on_a_public_holiday(customers: Run, tmp_path: Path) -> None:
    number = ingest(customers, tmp_path, "wang@plant.example.cn", "核心交换机宕机", "全厂业务中断。",
                    "2026-02-17T03:00:00+08:00")  # the first day of the Spring Festival
    _, out, _ = customers("tickets", "severity", number, "1", "--at", "2026-02-17T03:05:00+08:00", "--json")
    changed = as_json(out)
    assert (changed["tier"], changed["response_due"]) == ("24x7", "2026-02-17T03:15:00+08:00")
    assert changed["onsite_due"] == "2026-02-17T05:00:00+08:00"
    assert changed["resolve_due"] == "2026-02-17T07:00:00+08:00"
    assert changed["sla"]["response"] == {"due": "2026-02-17T03:15:00+08:00", "state": "running",
                                          "time_left_s": 600, "paused": False}
    _, out, _ = customers("tickets", "respond", number, "--at", "2026-02-17T03:20:00+08:00", "--json")
    responded = as_json(out)
    assert responded["first_response_at"] == "2026-02-17T03:20:00+08:00"
    assert responded["sla"]["response"]["state"] == "breached" and responded["sla"]["response"]["time_left_s"] == -300


@pytest.mark.parametrize(
    ("at", "dispatch"),
    [
        ("2026-02-12T14:59:00+08:00", "2026-02-12"),  # a working day, before the cut-off
        ("2026-02-12T15:00:00+08:00", "2026-02-13"),  # at the cut-off: the next working day
        ("2026-09-30T14:00:00+08:00", "2026-09-30"),  # the day before National Day
        ("2026-09-30T16:00:00+08:00", "2026-10-08"),
        ("2026-02-28T14:30:00+08:00", "2026-02-28"),  # a make-up Saturday ships
        ("2026-02-28T15:01:00+08:00", "2026-03-02"),
        ("2026-02-21T10:00:00+08:00", "2026-02-24"),  # a holiday morning: the next working day
    ],
)
def test_part_dispatch_by_the_cut_off(customers: Run, tmp_path: Path, at: str, dispatch: str) -> None:
    number = ingest(customers, tmp_path, "ann@mill.example.com", "Power supply failed", "PSU 2 is dead.",
                    "2026-02-12T09:00:00+08:00")
    code, out, _ = customers("tickets", "part-needed", number, "--at", at)
    assert code == 0 and out.splitlines()[0] == f"part dispatch on {dispatch}"
    assert as_json(customers("tickets", "show", number, "--json")[1])["part_dispatch_on"] == dispatch
