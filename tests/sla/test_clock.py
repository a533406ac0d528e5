from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.sla import clock, workdays
from tests.sla.helpers import SHANGHAI, at

HOURS = clock.BusinessHours(time(9, 0), time(17, 30), SHANGHAI)
CALENDAR = workdays.WorkCalendar()  # module-level so hypothesis can share it across examples


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", clock.Duration("15m", "time", length=timedelta(minutes=15))),
        ("2h", clock.Duration("2h", "time", length=timedelta(hours=2))),
        ("1h30m", clock.Duration("1h30m", "time", length=timedelta(minutes=90))),
        ("1d", clock.Duration("1d", "time", length=timedelta(hours=24))),
        ("0m", clock.Duration("0m", "time", length=timedelta(0))),
        (" 2H ", clock.Duration(" 2H ", "time", length=timedelta(hours=2))),
        ("5bd", clock.Duration("5bd", "business_days", days=5)),
        ("next_business_day", clock.Duration("next_business_day", "next_business_day")),
        ("", None),
    ],
)
def test_parse_duration(text: str, expected: clock.Duration | None) -> None:
    assert clock.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["2 hours", "h", "5 bd", "-1h", "1.5h", "tomorrow", "bd", "30s", "none"])
def test_parse_duration_names_the_bad_value(text: str) -> None:
    with pytest.raises(ValueError, match=r"^bad duration " + repr(text).replace(".", r"\.") + ": use e.g."):
        clock.parse_duration(text)


def test_parse_duration_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match=r"^bad duration 15: expected a string"):
        clock.parse_duration(15)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "delta", "expected"),
    [
        ("2026-03-03 10:00", timedelta(hours=1), "2026-03-03 11:00"),
        ("2026-03-03 17:20", timedelta(minutes=15), "2026-03-04 09:05"),  # rolls to the next working day
        ("2026-03-03 17:30", timedelta(0), "2026-03-03 17:30"),  # closing minute is still in
        ("2026-03-03 17:31", timedelta(0), "2026-03-04 09:00"),
        ("2026-03-03 08:00", timedelta(0), "2026-03-03 09:00"),
        ("2026-03-07 11:00", timedelta(minutes=30), "2026-03-09 09:30"),  # Saturday -> Monday
        ("2026-02-13 17:00", timedelta(hours=1), "2026-02-14 09:30"),  # make-up Saturday works
        ("2026-02-14 17:00", timedelta(hours=1), "2026-02-24 09:30"),  # over Spring Festival
        ("2026-03-03 10:00", timedelta(hours=8, minutes=30), "2026-03-04 10:00"),
        ("2026-03-03 09:00", timedelta(hours=8, minutes=30), "2026-03-03 17:30"),
        ("2026-03-03 10:00", timedelta(hours=7, minutes=31), "2026-03-04 09:01"),
        ("2026-03-03T09:20+00:00", timedelta(minutes=15), "2026-03-04 09:05"),  # UTC in, policy zone out
        ("2026-12-31 17:00", timedelta(hours=1), "2027-01-04 09:30"),  # 2027-01-01 estimated off
    ],
)
def test_add_business_time(start: str, delta: timedelta, expected: str) -> None:
    result = clock.add_business_time(at(start), delta, HOURS, CALENDAR)
    assert result == at(expected)
    assert result.tzinfo == SHANGHAI


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-03-03 16:00", "2026-03-04 09:30", timedelta(hours=2)),
        ("2026-02-13 17:00", "2026-02-24 10:00", timedelta(hours=10)),
        ("2026-03-07 08:00", "2026-03-08 20:00", timedelta(0)),
        ("2026-03-04 10:00", "2026-03-03 10:00", timedelta(0)),
    ],
)
def test_business_time_between(start: str, end: str, expected: timedelta) -> None:
    assert clock.business_time_between(at(start), at(end), HOURS, CALENDAR) == expected


@pytest.mark.parametrize(
    ("moment", "expected", "running"),
    [
        ("2026-03-03 10:00", "2026-03-03 10:00", True),
        ("2026-03-03 07:00", "2026-03-03 09:00", False),
        ("2026-03-03 17:30", "2026-03-04 09:00", False),
        ("2026-02-15 12:00", "2026-02-24 09:00", False),
        ("2026-02-14 12:00", "2026-02-14 12:00", True),
    ],
)
def test_next_business_hour(moment: str, expected: str, running: bool) -> None:
    assert clock.next_business_hour(at(moment), HOURS, CALENDAR) == at(expected)
    assert clock.is_business_time(at(moment), HOURS, CALENDAR) is running


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2026-02-13 10:00", "2026-02-14 17:30"),
        ("2026-02-13 17:30", "2026-02-14 17:30"),
        ("2026-02-14 18:00", "2026-02-24 17:30"),
        ("2026-03-08 03:00", "2026-03-09 17:30"),
    ],
)
def test_close_of_next_business_day(start: str, expected: str) -> None:
    assert clock.close_of_next_business_day(at(start), HOURS, CALENDAR) == at(expected)


def test_always_clock_counts_real_time_across_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    hours = clock.BusinessHours(time(9, 0), time(17, 0), berlin)
    start = datetime(2026, 3, 28, 12, 0, tzinfo=berlin)  # CET; summer time starts 2026-03-29
    due = clock.add_clock_time(start, timedelta(hours=24), "always", hours, CALENDAR)
    assert due == datetime(2026, 3, 29, 13, 0, tzinfo=berlin)
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=24)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"start": "25:00"}, "business_hours.start: '25:00' is not a time of day"),
        ({"start": "18:00"}, "business hours: start 18:00:00 must be before end 17:30:00"),
    ],
)
def test_bad_business_hours(section: dict, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        clock.BusinessHours.from_policy({"business_hours": section}, SHANGHAI)
    assert str(caught.value).startswith(message)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="start must be a timezone-aware datetime"):
        clock.add_business_time(datetime(2026, 3, 3, 10, 0), timedelta(hours=1), HOURS, CALENDAR)


moments = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 1, 31), timezones=st.just(SHANGHAI)
)
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=120)).map(
    lambda span: timedelta(minutes=span // timedelta(minutes=1))
)


@settings(max_examples=150, deadline=None)
@given(start=moments, delta=spans)
def test_business_time_between_inverts_add_business_time(start: datetime, delta: timedelta) -> None:
    due = clock.add_business_time(start, delta, HOURS, CALENDAR)
    assert clock.business_time_between(start, due, HOURS, CALENDAR) == delta
    assert due >= start
    day = due.date()
    assert CALENDAR.is_workday(day) and time(9, 0) <= due.time() <= time(17, 30)


@settings(max_examples=150, deadline=None)
@given(start=moments, first=spans, second=spans)
def test_add_business_time_is_additive(start: datetime, first: timedelta, second: timedelta) -> None:
    stepwise = clock.add_business_time(
        clock.add_business_time(start, first, HOURS, CALENDAR), second, HOURS, CALENDAR
    )
    assert stepwise == clock.add_business_time(start, first + second, HOURS, CALENDAR)


def test_day_length() -> None:
    assert HOURS.day_length == timedelta(hours=8, minutes=30)
    assert HOURS.period(date(2026, 3, 3)) == (
        datetime(2026, 3, 3, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 3, 9, 30, tzinfo=UTC),
    )
