"""Service tiers and fault levels turned into deadlines, callbacks and clock states.

The policy ([business_hours], [tiers], [levels], [sla]; see pipeline/policy/service.toml) says
what is promised; this module says when it falls due. Rules:

* A level's targets are measured on the customer's tier clock: wall-clock for "always" (24x7),
  business hours for "business" (8x5). "5bd" and "next_business_day" always count business days.
* The tier's response_limit caps the level's response target when it is stricter for the customer
  (24x7: min(level, 4 h); 8x5: min(level in business time, close of the next business day)).
  A level promising no response still gets the tier's limit.
* The resolve clock stops while the ticket waits for the customer: the paused time (measured on the
  tier's clock) is added to resolve_due.
* Customer overrides are a dict shaped like the policy ({"levels": {"1": {"resolve": "2h"}}}); they
  replace the department's values for that customer only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal

from pipeline import policy as policy_files
from pipeline import records
from pipeline.errors import ConfigError
from pipeline.sla import clock, workdays

FALLBACK_LANGUAGE = "en"
SECTIONS = ("business_hours", "tiers", "levels", "sla")

PausedIntervals = Iterable[tuple[datetime, datetime]]


@dataclass(frozen=True)
class Tier:
    name: str
    clock: clock.Clock
    response_limit: clock.Duration | None
    callback_limit: clock.Duration


@dataclass(frozen=True)
class Level:
    number: int
    names: Mapping[str, str]
    response: clock.Duration | None
    onsite: clock.Duration | None
    resolve: clock.Duration | None


@dataclass(frozen=True)
class ServicePolicy:
    """The parsed [business_hours], [tiers], [levels] and [sla] tables."""

    hours: clock.BusinessHours
    tiers: Mapping[str, Tier]
    levels: Mapping[int, Level]
    warn_share: float
    sections: Mapping[str, Any] = field(repr=False, compare=False)  # the raw tables, for overrides

    @classmethod
    def from_policy(cls, policy: dict[str, Any], zone: tzinfo) -> ServicePolicy:
        """Parse the policy; a bad value raises ConfigError naming its key."""
        sections = {name: policy.get(name, {}) for name in SECTIONS}
        try:
            hours = clock.BusinessHours.from_policy(policy, zone)
        except ValueError as exc:
            raise ConfigError(f"business_hours: {exc}") from exc
        tiers = {name: _tier(name, table) for name, table in sections["tiers"].items()}
        if not tiers:
            raise ConfigError('tiers: no service tier defined (e.g. [tiers."24x7"])')
        levels = {}
        for key, table in sections["levels"].items():
            level = _level(key, table)
            levels[level.number] = level
        if not levels:
            raise ConfigError("levels: no fault level defined (e.g. [levels.1])")
        warn_share = sections["sla"].get("warn_share", 0.75)
        if isinstance(warn_share, bool) or not isinstance(warn_share, int | float) or not 0 < warn_share <= 1:
            raise ConfigError(f"sla.warn_share: {warn_share!r} must be a number in (0, 1], e.g. 0.75")
        return cls(hours, tiers, levels, float(warn_share), sections)

    def with_overrides(self, overrides: Mapping[str, Any]) -> ServicePolicy:
        """This policy with a customer's overrides (same shape as the policy) merged in.

        Only [business_hours], [tiers], [levels] and [sla] can differ per customer.
        """
        unknown = sorted(set(overrides) - set(SECTIONS))
        if unknown:
            raise ConfigError(
                f"customer overrides: {unknown} cannot differ per customer (only {list(SECTIONS)})"
            )
        _require_tables(overrides)
        sections = dict(self.sections)
        if "levels" in sections:
            sections["levels"] = {str(key): value for key, value in sections["levels"].items()}
        extra = dict(overrides)
        if "levels" in extra:
            extra["levels"] = {str(key): value for key, value in extra["levels"].items()}
        return ServicePolicy.from_policy(policy_files.merge(sections, extra), self.hours.zone)

    def tier(self, name: str) -> Tier:
        try:
            return self.tiers[name]
        except KeyError:
            raise ValueError(f"unknown service tier {name!r} (policy has {sorted(self.tiers)})") from None

    def level(self, number: int) -> Level:
        try:
            return self.levels[int(number)]
        except KeyError:
            raise ValueError(f"unknown level {number!r} (policy has {sorted(self.levels)})") from None


@dataclass(frozen=True)
class ClockStatus:
    due: datetime | None
    state: Literal["met", "breached", "running"]
    time_left_s: int | None  # to due from done_at (or now); negative when late; None without a due


def compute_deadlines(
    received_at: datetime,
    level: int,
    tier: str,
    service: ServicePolicy,
    calendar: workdays.WorkCalendar,
    *,
    paused: timedelta | PausedIntervals = timedelta(0),
    customer_overrides: Mapping[str, Any] | None = None,
) -> records.Deadlines:
    """Response, on-site and restore deadlines for a ticket of ``level`` received at ``received_at``.

    ``paused`` is the time the ticket waited for the customer: a duration already measured on the
    tier's clock, or (start, end) intervals, which are measured here (overlaps count once).
    """
    clock.require_aware(received_at, "received_at")
    if customer_overrides:
        service = service.with_overrides(customer_overrides)
    rules = service.tier(tier)
    target = service.level(level)
    notes: list[str] = []

    def due(duration: clock.Duration | None) -> datetime | None:
        if duration is None:
            return None
        return clock.due_after(received_at, duration, rules.clock, service.hours, calendar)

    response_due = due(target.response)
    limit_due = due(rules.response_limit)
    if limit_due is not None and (response_due is None or limit_due < response_due):
        notes.append(f"response: tier {tier} limit {rules.response_limit.text!r} is stricter")
        response_due = limit_due

    resolve_due = due(target.resolve)
    pause = paused_time(paused, rules.clock, service.hours, calendar)
    if pause < timedelta(0):
        raise ValueError(f"paused must not be negative, got {pause}")
    if resolve_due is not None and pause:
        resolve_due = clock.add_clock_time(resolve_due, pause, rules.clock, service.hours, calendar)
        notes.append(f"resolve: extended by {pause} waiting for the customer")

    dues = (response_due, due(target.onsite), resolve_due)
    notes.extend(_estimated_notes(received_at, dues, rules, target, service, calendar))
    zone = service.hours.zone
    response_due, onsite_due, resolve_due = (None if d is None else d.astimezone(zone) for d in dues)
    return records.Deadlines(response_due, onsite_due, resolve_due, notes=tuple(notes))


def paused_time(
    paused: timedelta | PausedIntervals,
    clock_kind: clock.Clock,
    hours: clock.BusinessHours,
    calendar: workdays.WorkCalendar,
) -> timedelta:
    """A paused duration as is, or the union of (start, end) intervals measured on the clock."""
    if isinstance(paused, timedelta):
        return paused
    intervals = sorted((start.astimezone(UTC), end.astimezone(UTC)) for start, end in paused)
    merged: list[tuple[datetime, datetime]] = []
    for start, end in intervals:
        if end < start:
            raise ValueError(f"paused interval ends before it starts: {start} > {end}")
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return sum(
        (clock.clock_time_between(start, end, clock_kind, hours, calendar) for start, end in merged),
        timedelta(0),
    )


def level_name(service: ServicePolicy, level: int, language: str) -> str:
    """The level's name in ``language`` ("zh-Hans", "zh-Hant", "en"), else in English."""
    names = service.level(level).names
    return names.get(language) or names.get(FALLBACK_LANGUAGE) or f"Level {int(level)}"


def callback_due(
    at: datetime, tier: str, service: ServicePolicy, calendar: workdays.WorkCalendar
) -> datetime:
    """When a missed hotline call must be called back: the tier's callback_limit on its clock.

    24x7 ("15m", always): 15 minutes later, day or night. 8x5 ("1h", business): one business hour,
    so a call missed at 10:00 is due 11:00, at 17:00 the next working day 09:30, and at 20:00 or
    on a day off one hour after the next opening (10:00).
    """
    rules = service.tier(tier)
    due = clock.due_after(at, rules.callback_limit, rules.clock, service.hours, calendar)
    return due.astimezone(service.hours.zone)


def clock_status(due: datetime | None, done_at: datetime | None, now: datetime) -> ClockStatus:
    """Met (done by due), breached (done late, or not done and past due) or running.

    Without a due (nothing promised) a clock is met once done and running until then.
    """
    if due is None:
        return ClockStatus(None, "met" if done_at is not None else "running", None)
    until = done_at if done_at is not None else now
    left = (due.astimezone(UTC) - until.astimezone(UTC)).total_seconds()
    if done_at is not None:
        state: Literal["met", "breached", "running"] = "met" if left >= 0 else "breached"
    else:
        state = "running" if left >= 0 else "breached"
    return ClockStatus(due, state, math.floor(left))


def warn_at(
    start: datetime,
    due: datetime,
    share: float,
    *,
    hours: clock.BusinessHours | None = None,
    calendar: workdays.WorkCalendar | None = None,
) -> datetime:
    """When ``share`` of the time from start to due has gone (the early-warning point).

    Wall-clock by default; pass hours and calendar to measure in business time (8x5 tickets), so
    the warning does not fall at night.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must be between 0 and 1, got {share}")
    clock.require_aware(start, "start")
    clock.require_aware(due, "due")
    if hours is not None and calendar is not None:
        span = clock.business_time_between(start, due, hours, calendar)
        return clock.add_business_time(start, span * share, hours, calendar)
    span = due.astimezone(UTC) - start.astimezone(UTC)
    return (start.astimezone(UTC) + span * share).astimezone(due.tzinfo)


def _require_tables(overrides: Mapping[str, Any]) -> None:
    """Customer overrides come from data (a JSON column, a CSV cell), not a checked TOML file: each section,
    and each level and tier in it, must be a table, or ConfigError names the first that is not."""
    for name, section in overrides.items():
        if not isinstance(section, Mapping):
            raise ConfigError(f"customer overrides: {name}: expected a table, got {section!r}")
        if name in ("levels", "tiers"):
            for key, table in section.items():
                if not isinstance(table, Mapping):
                    raise ConfigError(f"customer overrides: {name}.{key}: expected a table, got {table!r}")


def _tier(name: str, table: Mapping[str, Any]) -> Tier:
    key = f"tiers.{name}"
    kind = table.get("clock", "always")
    if kind not in clock.CLOCKS:
        raise ConfigError(f"{key}.clock: {kind!r} must be one of {clock.CLOCKS}")
    callback = _duration(table.get("callback_limit", ""), f"{key}.callback_limit")
    if callback is None:
        raise ConfigError(f'{key}.callback_limit: required, e.g. "15m" or "1h"')
    return Tier(name, kind, _duration(table.get("response_limit", ""), f"{key}.response_limit"), callback)


def _level(key: str | int, table: Mapping[str, Any]) -> Level:
    try:
        number = int(key)
    except ValueError:
        raise ConfigError(f"levels.{key}: level keys are numbers 1-4, e.g. [levels.1]") from None
    names = table.get("name", {})
    if isinstance(names, str):
        names = {FALLBACK_LANGUAGE: names}
    if not isinstance(names, Mapping) or not all(isinstance(v, str) for v in names.values()):
        raise ConfigError(f'levels.{key}.name: expected {{ "zh-Hans" = ..., "zh-Hant" = ..., en = ... }}')
    return Level(
        number,
        dict(names),
        *(
            _duration(table.get(target, ""), f"levels.{key}.{target}")
            for target in ("response", "onsite", "resolve")
        ),
    )


def _duration(value: Any, key: str) -> clock.Duration | None:
    try:
        return clock.parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from exc


def _estimated_notes(
    received_at: datetime,
    dues: tuple[datetime | None, ...],
    rules: Tier,
    target: Level,
    service: ServicePolicy,
    calendar: workdays.WorkCalendar,
) -> list[str]:
    """Name the years whose unpublished (estimated) schedule a business-day deadline relied on."""
    durations = (target.response, target.onsite, target.resolve, rules.response_limit)
    if rules.clock != "business" and all(d is None or d.kind == "time" for d in durations):
        return []
    known = [d for d in dues if d is not None]
    if not known:
        return []
    day, last = service.hours.local_date(received_at), service.hours.local_date(max(known))
    years: set[int] = set()
    while day <= last:
        if calendar.source(day) == "estimated":
            years.add(day.year)
        day += timedelta(days=1)
    return [f"calendar: {year} holiday schedule is estimated (not yet published)" for year in sorted(years)]
