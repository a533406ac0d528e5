"""The scheduler's policy tables: shipped defaults, and a bad value named by its key."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from pipeline import policy as policy_files
from pipeline.errors import ConfigError
from pipeline.jobs.rules import SchedulerRules


def test_shipped_defaults(policy: dict[str, Any]) -> None:
    rules = SchedulerRules.from_policy(policy)
    assert (rules.engineer_email, rules.manager_email, rules.staff_language) == (None, None, "zh-Hans")
    assert (rules.callback_lead, rules.catch_up) == (timedelta(minutes=10), timedelta(days=3))
    assert (rules.revisit_after_workdays, rules.revisit_onsite_levels) == (3, frozenset({1}))
    assert (rules.visit_time, rules.visit_length, rules.survey_days) == (time(10), timedelta(hours=2), (1, 5))
    visits = {rule.kind: rule for rule in rules.visits}
    assert (visits["inspection"].months, visits["inspection"].tiers, visits["inspection"].on_workday) == (
        3, frozenset({"24x7"}), 10)
    assert (visits["training"].months, visits["training"].contract_clause) == (6, "training")


def test_contracts_name_customers_clauses(policy: dict[str, Any]) -> None:
    rules = SchedulerRules.from_policy(policy_files.merge(policy, {"contracts": {"华东电厂": ["training"]}}))
    assert rules.has_clause("华东电厂", "training") and not rules.has_clause("Mill Co", "training")
    assert rules.has_clause("Mill Co", None)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"scheduler": {"callback_reminder_before": "soon"}}, "scheduler.callback_reminder_before: bad duration"),
        ({"scheduler": {"catch_up": "2bd"}}, "scheduler.catch_up: '2bd' must be a length of time"),
        ({"scheduler": {"engineer_email": 5}}, "scheduler.engineer_email: 5 must be a string"),
        ({"followup": {"survey_day_range": [5, 1]}}, "followup.survey_day_range: [5, 1] must be"),
        ({"followup": {"revisit_onsite_levels": "1"}}, "followup.revisit_onsite_levels: '1' must be a list"),
        ({"followup": {"visit_time": "ten"}}, "followup.visit_time: 'ten' is not a time of day"),
        ({"followup": {"visits": [{"kind": "party", "every": "month", "tiers": ["8x5"]}]}},
         "followup.visits[0].kind: 'party' must be one of"),
        ({"followup": {"visits": [{"kind": "training", "every": "fortnight", "tiers": ["8x5"]}]}},
         "followup.visits[0].every: 'fortnight' must be one of"),
        ({"followup": {"visits": [{"kind": "training", "every": "year", "tiers": ["8x5"], "on_workday": 0}]}},
         "followup.visits[0].on_workday: 0 must be a whole number >= 1"),
        ({"contracts": {"Mill Co": "training"}}, "contracts.Mill Co: expected a list of clauses"),
    ],
)
def test_bad_values_name_their_key(policy: dict[str, Any], override: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SchedulerRules.from_policy(policy_files.merge(policy, override))
    assert str(caught.value).startswith(message)
