"""The shipped service.toml and the example department policy load and mean what they say."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pipeline import policy as policy_files
from pipeline.sla import clock, deadlines, workdays
from tests.sla.helpers import EXAMPLES, SHANGHAI, at, load_toml

CLASSES_A_D = EXAMPLES / "policy-classes-a-d.toml"


def test_service_toml_targets(service: deadlines.ServicePolicy) -> None:
    table = {
        number: tuple(None if d is None else d.text for d in (level.response, level.onsite, level.resolve))
        for number, level in service.levels.items()
    }
    assert table == {
        1: ("15m", "2h", "4h"),
        2: ("30m", "4h", "12h"),
        3: ("2h", "next_business_day", "24h"),
        4: ("next_business_day", None, "5bd"),
    }
    tiers = {
        name: (
            tier.clock,
            tier.response_limit.text if tier.response_limit else None,
            tier.callback_limit.text,
        )
        for name, tier in service.tiers.items()
    }
    assert tiers == {"24x7": ("always", "4h", "15m"), "8x5": ("business", "next_business_day", "1h")}
    assert (service.hours.start.isoformat(), service.hours.end.isoformat()) == ("09:00:00", "17:30:00")
    assert service.warn_share == 0.75


def test_service_toml_other_sections(policy: dict[str, Any]) -> None:
    assert policy["calendar"] == {"region": "CN", "extra_holidays": [], "extra_workdays": []}
    assert policy["followup"]["revisit_after_workdays"] == 3
    assert policy["followup"]["survey_day_range"] == [1, 5]
    visits = {visit["kind"]: visit for visit in policy["followup"]["visits"]}
    assert visits["inspection"]["every"] == "quarter" and visits["inspection"]["tiers"] == ["24x7"]
    assert visits["training"]["every"] == "half-year" and visits["training"]["contract_clause"] == "training"
    for visit in visits.values():
        assert set(visit["tiers"]) <= set(policy["tiers"])


@pytest.fixture(scope="module")
def classes_a_d(policy: dict[str, Any]) -> dict[str, Any]:
    """Loaded the way load_policy(policy_file=...) does: merged over the shipped defaults."""
    return policy_files.merge(policy, load_toml(CLASSES_A_D))


@pytest.mark.parametrize(
    ("level", "language", "name", "resolve"),
    [
        (1, "zh-Hans", "A类故障", "15m"),
        (2, "zh-Hant", "B類故障", "30m"),
        (3, "en", "Class C", "45m"),
        (4, "fr", "Class D", "2h"),
    ],
)
def test_classes_a_d_names_and_targets(
    classes_a_d: dict[str, Any], level: int, language: str, name: str, resolve: str
) -> None:
    service = deadlines.ServicePolicy.from_policy(classes_a_d, SHANGHAI)
    assert deadlines.level_name(service, level, language) == name
    rules = service.level(level)
    assert rules.response == clock.Duration("0m", "time", length=timedelta(0))
    assert rules.onsite is None
    assert rules.resolve is not None and rules.resolve.text == resolve


@pytest.mark.parametrize(
    ("received", "level", "tier", "response", "resolve"),
    [
        ("2026-10-01 03:00", 1, "24x7", "2026-10-01 03:00", "2026-10-01 03:15"),  # answered at once
        ("2026-10-01 03:00", 4, "24x7", "2026-10-01 03:00", "2026-10-01 05:00"),
        ("2026-03-03 16:30", 4, "8x5", "2026-03-03 16:30", "2026-03-04 10:00"),  # 1 h today, 1 h tomorrow
        ("2026-03-07 11:00", 1, "8x5", "2026-03-09 09:00", "2026-03-09 09:15"),  # Saturday: at opening
        ("2026-02-14 17:00", 3, "8x5", "2026-02-14 17:00", "2026-02-24 09:15"),  # make-up Saturday
    ],
)
def test_classes_a_d_deadlines(
    classes_a_d: dict[str, Any],
    calendar: workdays.WorkCalendar,
    received: str,
    level: int,
    tier: str,
    response: str,
    resolve: str,
) -> None:
    service = deadlines.ServicePolicy.from_policy(classes_a_d, SHANGHAI)
    result = deadlines.compute_deadlines(at(received), level, tier, service, calendar)
    assert (result.response_due, result.onsite_due, result.resolve_due) == (at(response), None, at(resolve))
    assert service.warn_share == 0.5
