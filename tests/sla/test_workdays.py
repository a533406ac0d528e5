from __future__ import annotations

import logging
from datetime import date, timedelta

import chinese_calendar
import holidays
import pytest

from pipeline.errors import ConfigError
from pipeline.sla import workdays

D = date.fromisoformat


@pytest.mark.parametrize(
    ("day", "is_workday", "source"),
    [
        ("2026-02-13", True, "official"),  # Friday before Spring Festival
        ("2026-02-14", True, "official"),  # Saturday, make-up working day (调休)
        ("2026-02-15", False, "official"),  # Sunday, Spring Festival
        ("2026-02-23", False, "official"),  # Monday, day off in lieu
        ("2026-02-24", True, "official"),
        ("2026-02-28", True, "official"),  # Saturday, make-up
        ("2026-01-04", True, "official"),  # Sunday, make-up for New Year
        ("2026-03-07", False, "official"),  # ordinary Saturday
        ("2026-10-01", False, "official"),  # National Day
        ("2026-10-08", True, "official"),
        ("2026-10-10", True, "official"),  # Saturday, make-up
        ("2025-01-26", True, "official"),  # Sunday, make-up
        ("2025-02-04", False, "official"),  # Tuesday in lieu
        ("2027-01-01", False, "estimated"),  # unpublished year: holidays.China's guess
        ("2027-02-09", False, "estimated"),
        ("2027-02-11", True, "estimated"),
        ("2027-02-13", False, "estimated"),  # a Saturday; make-up days are unknown
        ("2027-10-01", False, "estimated"),
    ],
)
def test_is_workday_and_source(
    calendar: workdays.WorkCalendar, day: str, is_workday: bool, source: str
) -> None:
    assert (calendar.is_workday(D(day)), calendar.source(D(day))) == (is_workday, source)


def test_overrides_win_over_both_packages() -> None:
    calendar = workdays.WorkCalendar.from_policy(
        {
            "calendar": {
                "region": "CN",
                "extra_holidays": ["2026-03-03", D("2026-02-14")],
                "extra_workdays": ["2026-02-23", "2027-02-20"],
            }
        }
    )
    answers = {
        day: (calendar.is_workday(D(day)), calendar.source(D(day)))
        for day in ("2026-03-03", "2026-02-14", "2026-02-23", "2027-02-20", "2026-03-04")
    }
    assert answers == {
        "2026-03-03": (False, "override"),
        "2026-02-14": (False, "override"),
        "2026-02-23": (True, "override"),
        "2027-02-20": (True, "override"),
        "2026-03-04": (True, "official"),
    }
    assert calendar.next_workday(D("2026-02-13")) == D("2026-02-23")


def test_estimated_year_is_logged_once_per_year_and_process(caplog: pytest.LogCaptureFixture) -> None:
    process = workdays.EstimatedYears()  # what PROCESS_ESTIMATES is to every calendar a process builds
    first, second = workdays.WorkCalendar(estimates=process), workdays.WorkCalendar(estimates=process)
    caplog.set_level(logging.DEBUG, logger="pipeline.sla.workdays")
    first.is_workday(D("2026-06-01"))  # published: nothing to say
    assert caplog.records == []
    day = D("2027-01-01")
    while day < D("2028-01-10"):
        first.is_workday(day)
        second.is_workday(day)
        day += timedelta(days=1)
    assert [(r.levelname, r.getMessage()[:24]) for r in caplog.records] == [
        ("INFO", "China's 2027 holiday sch"), ("INFO", "China's 2028 holiday sch")]
    assert "estimates" in caplog.records[0].getMessage()
    assert "list known days in [policy.calendar] extra_holidays / extra_workdays" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda c: c.next_workday(D("2026-02-13")), "2026-02-14"),
        (lambda c: c.next_workday(D("2026-02-14")), "2026-02-24"),
        (lambda c: c.next_workday(D("2026-02-14"), include_today=True), "2026-02-14"),
        (lambda c: c.next_workday(D("2026-02-15"), include_today=True), "2026-02-24"),
        (lambda c: c.next_workday(D("2026-09-30")), "2026-10-08"),
        (lambda c: c.previous_workday(D("2026-02-24")), "2026-02-14"),
        (lambda c: c.previous_workday(D("2026-10-08")), "2026-09-30"),
        (lambda c: c.previous_workday(D("2026-10-08"), include_today=True), "2026-10-08"),
        (lambda c: c.add_workdays(D("2026-02-13"), 2), "2026-02-24"),
        (lambda c: c.add_workdays(D("2026-02-15"), 1), "2026-02-24"),
        (lambda c: c.add_workdays(D("2026-02-24"), -2), "2026-02-13"),
        (lambda c: c.add_workdays(D("2026-02-15"), 0), "2026-02-15"),
        (lambda c: c.add_workdays(D("2026-09-30"), 3), "2026-10-10"),
        (lambda c: c.add_workdays(D("2026-12-30"), 3), "2027-01-05"),  # crosses into an estimated year
    ],
)
def test_workday_steps(calendar: workdays.WorkCalendar, call, expected: str) -> None:
    assert call(calendar) == D(expected)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"region": "HK"}, "calendar.region: 'HK' is not supported"),
        ({"extra_holidays": ["2026-13-01"]}, "calendar.extra_holidays[0]: '2026-13-01' is not an ISO date"),
        ({"extra_workdays": "2026-02-23"}, "calendar.extra_workdays: expected a list of dates"),
        (
            {"extra_holidays": ["2026-05-06"], "extra_workdays": ["2026-05-06"]},
            "calendar: 2026-05-06 listed in both extra_holidays and extra_workdays",
        ),
    ],
)
def test_bad_calendar_policy_names_the_key(section: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        workdays.WorkCalendar.from_policy({"calendar": section})
    assert str(caught.value).startswith(message)


def test_chinese_calendar_and_holidays_china_agree_2024_to_2026() -> None:
    """Both packages publish 2024-2026; every day must agree (none did with 1.11.0 / 0.109)."""
    china = holidays.China(years=range(2024, 2027))
    disagreements = []
    day = D("2024-01-01")
    while day <= D("2026-12-31"):
        official, estimate = chinese_calendar.is_workday(day), china.is_working_day(day)
        if official != estimate:
            disagreements.append((day.isoformat(), official, estimate, china.get(day)))
        day += timedelta(days=1)
    assert disagreements == []


def test_calendar_answers_from_cache(
    calendar: workdays.WorkCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    calendar.is_workday(D("2026-04-06"))

    def fail(day: date) -> bool:
        raise AssertionError(f"asked chinese_calendar again for {day}")

    monkeypatch.setattr(chinese_calendar, "is_workday", fail)
    assert calendar.is_workday(D("2026-04-06")) is False  # Qingming in lieu
