"""One notice and one reminder per callback window: the rule the hotline and the planner share.

A caller who retries six times in five minutes is one person waiting for one callback. The jobs of their
first missed call (the SMS "we will call you back by 10:15", the engineers' reminders) stand for the
retries that begin while that call's callback window is open: from its start until its callback is due,
unless someone has answered the caller since. Each retry still gets its own callback_due, shown in the
call log, but no job that a live job of such an earlier call already does. The same caller is the same
number (calls.from_number) on the same ticket: a colleague's call on that ticket is someone else waiting.

The hotline (pipeline.calls.followups) applies it as calls are missed, the planner
(pipeline.jobs.scheduler) when it adds what the hotline did not; both tell a job's call by `job_call`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REMINDER, NOTICE = "callback_reminder", "callback_notice"
# what a follow-up job does for the caller: an engineer is reminded (by mail, SMS, or a call put through
# to the caller), or the caller is told when we will call back
DOES = {"callback_reminder": REMINDER, "callback_call": REMINDER, "callback_notice": NOTICE}
LIVE = frozenset({"pending", "running", "sent"})  # a cancelled or failed job told nobody


@dataclass(frozen=True)
class Window:
    """A call of one caller on one ticket, as far as its callback window goes."""

    call_id: int
    started_at: datetime
    callback_due: datetime | None  # None: the call owes no callback (answered, or not missed)
    answered_since: bool  # someone answered the caller since it began: its window closed then


def covers(earlier: Window, later: Window) -> bool:
    """Whether `later` began while `earlier`'s window was open (two calls of one caller on one ticket; at
    the same instant, the one created first is the earlier)."""
    return ((earlier.started_at, earlier.call_id) < (later.started_at, later.call_id)
            and earlier.callback_due is not None and later.started_at <= earlier.callback_due
            and not earlier.answered_since)


def covered(call: Window, others: Iterable[Window], live: Mapping[int, set[str]]) -> set[str]:
    """What `call` needs no job of its own for (REMINDER, NOTICE): what the live jobs (`live`: call id ->
    what they do) of the caller's calls whose window was open when it began already do."""
    done: set[str] = set()
    for other in others:
        if covers(other, call):
            done |= live.get(other.call_id, set())
    return done


def job_call(payload: Mapping[str, Any] | None, ids_by_sid: Mapping[str, int]) -> int | None:
    """The call a follow-up job is for: the planner names it by id (`call`), the hotline by CallSid."""
    payload = payload or {}
    if isinstance(payload.get("call"), int):
        return int(payload["call"])
    return ids_by_sid.get(str(payload.get("call_sid") or ""))
