"""Durations and business-time arithmetic: the two clocks a service tier can run on.

* ``always``: wall-clock time; "4h" is four hours later, night and holidays included.
* ``business``: only the business hours (policy [business_hours], in the policy zone) of working
  days (sla.workdays) count; "4h" is four business hours.

Business periods are closed intervals [open, close] of each working day: a deadline may fall on the
closing minute (17:30), and work arriving after closing or on a day off starts at the next opening.
All arithmetic is done in UTC, so a zone with daylight saving time measures real elapsed time;
results are aware datetimes in the policy zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal, Protocol

from pipeline.errors import ConfigError

Clock = Literal["always", "business"]
CLOCKS: tuple[Clock, ...] = ("always", "business")
SEARCH_LIMIT_DAYS = 3660


class Calendar(Protocol):
    """What the clock needs from sla.workdays.WorkCalendar."""

    def is_workday(self, day: date) -> bool: ...

    def next_workday(self, day: date, include_today: bool = False) -> date: ...


@dataclass(frozen=True)
class BusinessHours:
    """One business period per working day, from ``start`` to ``end`` local time in ``zone``."""

    start: time
    end: time
    zone: tzinfo

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"business hours: start {self.start} must be before end {self.end}")

    @classmethod
    def from_policy(cls, policy: dict[str, Any], zone: tzinfo) -> BusinessHours:
        """Read [business_hours] start/end ("09:00", "17:30"; defaults 09:00-17:30)."""
        section = policy.get("business_hours", {})
        return cls(
            start=parse_time(section.get("start", "09:00"), "business_hours.start"),
            end=parse_time(section.get("end", "17:30"), "business_hours.end"),
            zone=zone,
        )

    @property
    def day_length(self) -> timedelta:
        """Business time in one working day (8.5 h for 09:00-17:30)."""
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)

    def period(self, day: date) -> tuple[datetime, datetime]:
        """Opening and closing of ``day`` as aware UTC datetimes (whether or not it is a working day)."""
        opens = datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)
        closes = datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)
        return opens, closes

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()


@dataclass(frozen=True)
class Duration:
    """A parsed target such as "2h", "5bd" or "next_business_day"; ``text`` is what the policy said."""

    text: str
    kind: Literal["time", "business_days", "next_business_day"]
    length: timedelta = timedelta(0)  # kind "time"
    days: int = 0  # kind "business_days"


_TIME = re.compile(r"(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?")
_BUSINESS_DAYS = re.compile(r"(?P<n>\d+)bd")
DURATION_HELP = (
    "use e.g. '15m', '2h', '1h30m', '1d' (24h), '5bd' (business days), 'next_business_day', or '' for none"
)


def parse_duration(value: str) -> Duration | None:
    """Parse a policy duration; "" means the level promises nothing (None).

    Raises ValueError naming the bad value.
    """
    if not isinstance(value, str):
        raise ValueError(f"bad duration {value!r}: expected a string; {DURATION_HELP}")
    text = value.strip().lower()
    if text == "":
        return None
    if text == "next_business_day":
        return Duration(value, "next_business_day")
    if match := _BUSINESS_DAYS.fullmatch(text):
        return Duration(value, "business_days", days=int(match["n"]))
    match = _TIME.fullmatch(text)
    if match and any(match.groups()):
        days, hours, minutes = (int(group or 0) for group in match.groups())
        return Duration(value, "time", length=timedelta(days=days, hours=hours, minutes=minutes))
    raise ValueError(f"bad duration {value!r}: {DURATION_HELP}")


def parse_length(value: Any, key: str) -> timedelta:
    """A policy setting that must be a plain length of time ("10m", "2h", "3d"; "" is zero); ConfigError
    naming ``key`` otherwise."""
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    if duration is not None and duration.kind != "time":
        raise ConfigError(f"{key}: {value!r} must be a length of time such as '10m', '2h' or '3d'")
    return duration.length if duration else timedelta(0)


def parse_time(value: str | time, key: str) -> time:
    """Parse "09:00" (or a TOML local time); ValueError naming ``key`` otherwise."""
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{key}: {value!r} is not a time of day such as '09:00'") from exc


def add_business_time(
    start: datetime, delta: timedelta, hours: BusinessHours, calendar: Calendar
) -> datetime:
    """The earliest instant with ``delta`` of business time between ``start`` and it.

    With delta 0 that is ``start`` itself when it lies in a business period, else the next opening.
    """
    require_aware(start, "start")
    if delta < timedelta(0):
        raise ValueError(f"delta must not be negative, got {delta}")
    now = start.astimezone(UTC)
    day = hours.local_date(start)
    remaining = delta
    for _ in range(SEARCH_LIMIT_DAYS):
        if calendar.is_workday(day):
            opens, closes = hours.period(day)
            begin = max(now, opens)
            if begin <= closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(hours.zone)
                remaining -= available
        day += timedelta(days=1)
    raise ValueError(f"no business time within {SEARCH_LIMIT_DAYS} days of {start}")


def business_time_between(
    start: datetime, end: datetime, hours: BusinessHours, calendar: Calendar
) -> timedelta:
    """Business time from ``start`` to ``end``; zero when end is not after start."""
    require_aware(start, "start")
    require_aware(end, "end")
    begin, finish = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    day, last = hours.local_date(start), hours.local_date(end)
    while day <= last:
        if calendar.is_workday(day):
            opens, closes = hours.period(day)
            overlap = min(finish, closes) - max(begin, opens)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def is_business_time(at: datetime, hours: BusinessHours, calendar: Calendar) -> bool:
    """True from opening (inclusive) to closing (exclusive) on a working day."""
    require_aware(at, "at")
    day = hours.local_date(at)
    if not calendar.is_workday(day):
        return False
    opens, closes = hours.period(day)
    return opens <= at.astimezone(UTC) < closes


def next_business_hour(at: datetime, hours: BusinessHours, calendar: Calendar) -> datetime:
    """``at`` itself when the business clock is running then, else the next opening."""
    require_aware(at, "at")
    now = at.astimezone(UTC)
    day = hours.local_date(at)
    for _ in range(SEARCH_LIMIT_DAYS):
        if calendar.is_workday(day):
            opens, closes = hours.period(day)
            if now < closes:
                return max(now, opens).astimezone(hours.zone)
        day += timedelta(days=1)
    raise ValueError(f"no business time within {SEARCH_LIMIT_DAYS} days of {at}")


def close_of_next_business_day(start: datetime, hours: BusinessHours, calendar: Calendar) -> datetime:
    """Closing time of the first working day after the local date of ``start``.

    Friday 17:30 -> the next working day's 17:30, as is Friday 10:00; Sunday -> Monday 17:30.
    """
    require_aware(start, "start")
    day = calendar.next_workday(hours.local_date(start))
    return hours.period(day)[1].astimezone(hours.zone)


def add_clock_time(
    start: datetime, delta: timedelta, clock: Clock, hours: BusinessHours, calendar: Calendar
) -> datetime:
    """``start`` + ``delta`` measured on ``clock``."""
    if clock == "business":
        return add_business_time(start, delta, hours, calendar)
    require_aware(start, "start")
    return (start.astimezone(UTC) + delta).astimezone(hours.zone)


def clock_time_between(
    start: datetime, end: datetime, clock: Clock, hours: BusinessHours, calendar: Calendar
) -> timedelta:
    """Time from ``start`` to ``end`` measured on ``clock`` (zero when end is not after start)."""
    if clock == "business":
        return business_time_between(start, end, hours, calendar)
    require_aware(start, "start")
    require_aware(end, "end")
    return max(end.astimezone(UTC) - start.astimezone(UTC), timedelta(0))


def due_after(
    start: datetime, duration: Duration, clock: Clock, hours: BusinessHours, calendar: Calendar
) -> datetime:
    """When a target falls due for work arriving at ``start``.

    * "time" (15m, 2h, 1d): that length on the tier's clock;
    * "business_days" (5bd): n x the business-day length of business time, whatever the tier's
      clock, so "1bd" from Tuesday 10:00 is Wednesday 10:00 and from Saturday night (day off) it
      is Monday's close;
    * "next_business_day": close of business of the first working day after the arrival date.
    """
    if duration.kind == "time":
        return add_clock_time(start, duration.length, clock, hours, calendar)
    if duration.kind == "business_days":
        return add_business_time(start, hours.day_length * duration.days, hours, calendar)
    return close_of_next_business_day(start, hours, calendar)


def require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")
