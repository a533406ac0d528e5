"""Day-granular promises: spare-part dispatch cut-off and the follow-up visit (回访) after resolution.

Policy: [parts] dispatch_cutoff and [followup] revisit_after_workdays in pipeline/policy/service.toml.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from typing import Any

from pipeline.errors import ConfigError
from pipeline.sla import clock
from pipeline.sla.workdays import WorkCalendar

DEFAULT_CUTOFF = time(15, 0)
DEFAULT_REVISIT_AFTER_WORKDAYS = 3


def part_dispatch_date(
    diagnosed_at: datetime, calendar: WorkCalendar, zone: tzinfo, cutoff: time = DEFAULT_CUTOFF
) -> date:
    """The day a spare part ships: the diagnosis day when it is a working day and the diagnosis
    came strictly before ``cutoff`` (local time in ``zone``), otherwise the next working day.
    """
    clock.require_aware(diagnosed_at, "diagnosed_at")
    local = diagnosed_at.astimezone(zone)
    day = local.date()
    if calendar.is_workday(day) and local.time() < cutoff:
        return day
    return calendar.next_workday(day)


def revisit_date(resolved_at: datetime, workdays: int, calendar: WorkCalendar, zone: tzinfo) -> date:
    """The follow-up visit: ``workdays`` working days after the local resolution day (0: that day
    if it is a working day, else the next one). Always a working day.
    """
    clock.require_aware(resolved_at, "resolved_at")
    if workdays < 0:
        raise ValueError(f"workdays must not be negative, got {workdays}")
    day = resolved_at.astimezone(zone).date()
    if workdays == 0:
        return calendar.next_workday(day, include_today=True)
    return calendar.add_workdays(day, workdays)


def revisit_reminder_date(visit_on: date, calendar: WorkCalendar) -> date:
    """The reminder for a visit goes out on the working day before it."""
    return calendar.previous_workday(visit_on)


def dispatch_cutoff(policy: dict[str, Any]) -> time:
    """[parts] dispatch_cutoff ("15:00" by default)."""
    value = policy.get("parts", {}).get("dispatch_cutoff", DEFAULT_CUTOFF)
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"parts.dispatch_cutoff: {value!r} is not a time of day such as '15:00'") from exc


def revisit_after_workdays(policy: dict[str, Any]) -> int:
    """[followup] revisit_after_workdays (3 by default)."""
    value = policy.get("followup", {}).get("revisit_after_workdays", DEFAULT_REVISIT_AFTER_WORKDAYS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"followup.revisit_after_workdays: {value!r} must be a whole number >= 0")
    return value
