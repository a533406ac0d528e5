from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from pipeline.errors import ConfigError
from pipeline.sla import cutoff, workdays
from tests.sla.helpers import SHANGHAI, at

D = date.fromisoformat


@pytest.mark.parametrize(
    ("diagnosed", "ships"),
    [
        ("2026-03-03 14:59", "2026-03-03"),
        ("2026-03-03 15:00", "2026-03-04"),  # the cut-off itself is too late
        ("2026-03-03 08:00", "2026-03-03"),
        ("2026-09-30 14:00", "2026-09-30"),
        ("2026-09-30 16:00", "2026-10-08"),  # the day before National Day
        ("2026-02-14 10:00", "2026-02-14"),  # make-up Saturday ships
        ("2026-02-14 15:30", "2026-02-24"),  # ... but after the cut-off waits for Spring Festival
        ("2026-03-08 10:00", "2026-03-09"),  # ordinary Sunday
        ("2026-10-03 09:00", "2026-10-08"),  # holiday
        ("2026-03-03T06:59+00:00", "2026-03-03"),  # 14:59 in Shanghai
        ("2026-03-03T07:00+00:00", "2026-03-04"),
    ],
)
def test_part_dispatch_date(calendar: workdays.WorkCalendar, diagnosed: str, ships: str) -> None:
    assert cutoff.part_dispatch_date(at(diagnosed), calendar, SHANGHAI) == D(ships)


def test_part_dispatch_custom_cutoff(calendar: workdays.WorkCalendar) -> None:
    assert cutoff.part_dispatch_date(at("2026-03-03 12:30"), calendar, SHANGHAI, time(12, 0)) == D(
        "2026-03-04"
    )
    assert cutoff.part_dispatch_date(at("2026-03-03 11:59"), calendar, SHANGHAI, time(12, 0)) == D(
        "2026-03-03"
    )


@pytest.mark.parametrize(
    ("resolved", "after", "visit", "reminder"),
    [
        ("2026-03-03 10:00", 3, "2026-03-06", "2026-03-05"),
        ("2026-03-05 10:00", 3, "2026-03-10", "2026-03-09"),  # over a weekend
        ("2026-02-13 16:00", 3, "2026-02-25", "2026-02-24"),  # make-up Saturday counts, festival not
        ("2026-02-13 16:00", 2, "2026-02-24", "2026-02-14"),  # reminder on the make-up Saturday
        ("2026-09-30 16:00", 3, "2026-10-10", "2026-10-09"),  # lands on make-up Saturday 10-10
        ("2026-10-04 11:00", 1, "2026-10-08", "2026-09-30"),  # resolved on a holiday
        ("2026-03-07 11:00", 0, "2026-03-09", "2026-03-06"),  # 0: next working day when resolved on a day off
        ("2026-03-03 11:00", 0, "2026-03-03", "2026-03-02"),
        ("2026-03-03T20:00+00:00", 3, "2026-03-09", "2026-03-06"),  # 04:00 Wednesday in Shanghai
    ],
)
def test_revisit_and_reminder(
    calendar: workdays.WorkCalendar, resolved: str, after: int, visit: str, reminder: str
) -> None:
    visit_on = cutoff.revisit_date(at(resolved), after, calendar, SHANGHAI)
    assert (visit_on, cutoff.revisit_reminder_date(visit_on, calendar)) == (D(visit), D(reminder))


@pytest.mark.parametrize("after", [0, 1, 3, 5])
def test_revisit_is_never_on_a_day_off(calendar: workdays.WorkCalendar, after: int) -> None:
    day = D("2025-12-01")
    while day <= D("2027-01-31"):
        visit_on = cutoff.revisit_date(at(f"{day} 12:00"), after, calendar, SHANGHAI)
        reminder = cutoff.revisit_reminder_date(visit_on, calendar)
        assert calendar.is_workday(visit_on) and visit_on >= day, day
        assert calendar.is_workday(reminder) and reminder < visit_on, day
        day += timedelta(days=1)


def test_revisit_refuses_negative_days(calendar: workdays.WorkCalendar) -> None:
    with pytest.raises(ValueError, match="workdays must not be negative"):
        cutoff.revisit_date(at("2026-03-03 10:00"), -1, calendar, SHANGHAI)


def test_policy_readers(policy: dict) -> None:
    assert cutoff.dispatch_cutoff(policy) == time(15, 0)
    assert cutoff.revisit_after_workdays(policy) == 3
    assert (cutoff.dispatch_cutoff({}), cutoff.revisit_after_workdays({})) == (time(15, 0), 3)
    with pytest.raises(ConfigError, match=r"^parts.dispatch_cutoff: '3pm' is not a time of day"):
        cutoff.dispatch_cutoff({"parts": {"dispatch_cutoff": "3pm"}})
    with pytest.raises(ConfigError, match=r"^followup.revisit_after_workdays: -1 must be a whole number"):
        cutoff.revisit_after_workdays({"followup": {"revisit_after_workdays": -1}})
