"""China's working days, make-up weekend days (调休) included.

Three sources, in order of precedence:

* ``override``: the policy's [calendar] extra_holidays / extra_workdays (``[policy.calendar]`` in
  intake.toml), so operations can patch a day (a site closure, a year the packages do not know yet)
  without a release;
* ``official``: chinese_calendar, a table of the State Council's published schedules; it raises
  NotImplementedError for years it does not cover (before 2004, and the next year until the
  schedule is published, usually in October-December);
* ``estimated``: holidays.China, which guesses unpublished years (fixed-date and lunar holidays,
  no make-up days). The first time a process uses a day of such a year, that is logged once, at INFO
  (the answers say "estimated" themselves; a CLI run should not warn each time a planner looks ahead).

Answers are cached per day: deadline arithmetic asks about the same days in loops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Literal

import chinese_calendar
import holidays

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

Source = Literal["official", "estimated", "override"]

REGIONS = ("CN",)
SEARCH_LIMIT_DAYS = 3660  # no calendar goes ten years without a working day


class EstimatedYears:
    """Says once per year that its days are estimated: one of these per process (PROCESS_ESTIMATES),
    however many calendars it builds."""

    def __init__(self) -> None:
        self._told: set[int] = set()
        self._lock = threading.Lock()  # calendars are shared by the serve threads

    def used(self, year: int) -> None:
        with self._lock:
            if year in self._told:
                return
            self._told.add(year)
        log.info(
            "China's %d holiday schedule is not in chinese_calendar %s: its days are holidays.China "
            "estimates (no make-up days) until it is published; list known days in [policy.calendar] "
            "extra_holidays / extra_workdays, or upgrade chinesecalendar",
            year,
            getattr(chinese_calendar, "__version__", "?"),
        )


PROCESS_ESTIMATES = EstimatedYears()


class WorkCalendar:
    """Answers "is this a working day?" for one region, with local overrides on top."""

    def __init__(
        self,
        region: str = "CN",
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        estimates: EstimatedYears = PROCESS_ESTIMATES,
    ) -> None:
        if region not in REGIONS:
            raise ConfigError(f"calendar.region: {region!r} is not supported (use one of {REGIONS})")
        self.region = region
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        both = self.extra_holidays & self.extra_workdays
        if both:
            days = ", ".join(sorted(day.isoformat() for day in both))
            raise ConfigError(f"calendar: {days} listed in both extra_holidays and extra_workdays")
        self._days: dict[date, tuple[bool, Source]] = {}
        self._fallback: holidays.HolidayBase | None = None
        self._estimates = estimates

    @classmethod
    def from_policy(cls, policy: dict[str, Any]) -> WorkCalendar:
        """Build from the policy's [calendar] table (region, extra_holidays, extra_workdays)."""
        section = policy.get("calendar", {})
        return cls(
            region=section.get("region", "CN"),
            extra_holidays=_dates(section.get("extra_holidays", []), "calendar.extra_holidays"),
            extra_workdays=_dates(section.get("extra_workdays", []), "calendar.extra_workdays"),
        )

    def is_workday(self, day: date) -> bool:
        return self._lookup(day)[0]

    def source(self, day: date) -> Source:
        """Where the answer for ``day`` comes from: "official", "estimated" or "override"."""
        return self._lookup(day)[1]

    def next_workday(self, day: date, include_today: bool = False) -> date:
        """The first working day after ``day`` (or ``day`` itself when include_today and it works)."""
        return self._search(day, 1, include_today)

    def previous_workday(self, day: date, include_today: bool = False) -> date:
        """The last working day before ``day`` (or ``day`` itself when include_today and it works)."""
        return self._search(day, -1, include_today)

    def add_workdays(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (n > 0), before it (n < 0), or ``day`` itself (n == 0).

        ``day`` need not be a working day; the result always is unless n == 0.
        """
        step = 1 if n > 0 else -1
        for _ in range(abs(n)):
            day = self._search(day, step, include_today=False)
        return day

    def _search(self, day: date, step: int, include_today: bool) -> date:
        if include_today and self.is_workday(day):
            return day
        for _ in range(SEARCH_LIMIT_DAYS):
            day += timedelta(days=step)
            if self.is_workday(day):
                return day
        raise ValueError(f"no working day within {SEARCH_LIMIT_DAYS} days of {day}")

    def _lookup(self, day: date) -> tuple[bool, Source]:
        answer = self._days.get(day)
        if answer is None:
            answer = self._days[day] = self._decide(day)
        return answer

    def _decide(self, day: date) -> tuple[bool, Source]:
        if day in self.extra_holidays:
            return False, "override"
        if day in self.extra_workdays:
            return True, "override"
        try:
            return chinese_calendar.is_workday(day), "official"
        except NotImplementedError:
            pass
        self._estimates.used(day.year)
        if self._fallback is None:
            self._fallback = holidays.China()
        return self._fallback.is_working_day(day), "estimated"


def _dates(values: Iterable[Any], key: str) -> list[date]:
    """ISO strings or TOML dates; a bad entry raises ConfigError naming it."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ConfigError(f'{key}: expected a list of dates such as ["2026-12-24"], got {values!r}')
    days = []
    for index, value in enumerate(values):
        if isinstance(value, date) and not isinstance(value, datetime):
            days.append(value)
            continue
        try:
            days.append(date.fromisoformat(value))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key}[{index}]: {value!r} is not an ISO date (YYYY-MM-DD)") from exc
    return days
