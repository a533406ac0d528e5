"""The planner (issue 7): turns tickets' clocks and the policy's promises into due jobs. Not built yet."""

from __future__ import annotations

from datetime import datetime

from pipeline.runtime import Runtime


def plan(rt: Runtime, now: datetime) -> int:
    """Create the jobs that are owed at `now` (idempotent); return how many were added."""
    return 0
