"""escalation_reason: complaints and requests for a manager, over the shipped policy."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipeline import triage
from pipeline.errors import ConfigError
from pipeline.triage import escalation

CASES = [
    # (subject, text, reason)
    ("", "你们的售后服务太差了，我要投诉！", "complaint rule matched '太差了'"),  # the first in the text
    ("", "我要投诉！", "complaint rule matched '投诉'"),
    ("投訴", "", "complaint rule matched '投訴'"),
    ("", "对处理结果非常不满意", "complaint rule matched '非常不满'"),
    ("", "对处理结果不满意", "complaint rule matched '不满意'"),
    ("", "This is unacceptable.", "complaint rule matched 'unacceptable'"),
    ("", "I want to file a complaint", "complaint rule matched 'complaint'"),
    ("", "叫你们经理来接电话", "manager rule matched '叫你们经理'"),
    ("", "我要找你们领导", "manager rule matched '找你们领导'"),
    ("", "请你們的主管回電", "manager rule matched '请你們的主管'"),
    ("", "I want to speak to a manager", "manager rule matched 'speak to a manager'"),
    ("", "Let me talk with your supervisor", "manager rule matched 'talk with your supervisor'"),
    ("Please escalate", "", "manager rule matched 'escalate'"),
    ("", "设备宕机，请尽快处理", None),
    ("", "The router is down", None),
    ("", "please check the escalator", None),  # word edges
    ("", "", None),
]


@pytest.mark.parametrize(("subject", "text", "reason"), CASES)
def test_escalation_reason(subject: str, text: str, reason: str | None, rules: triage.TriageRules) -> None:
    assert escalation.escalation_reason(subject, text, rules.escalation) == reason


def test_complaint_is_asked_before_manager(rules: triage.TriageRules) -> None:
    reason = escalation.escalation_reason("", "找领导，我要投诉", rules.escalation)
    assert reason == "complaint rule matched '投诉'"


def test_bad_regex_names_the_rule(policy: dict[str, Any]) -> None:
    changed = copy.deepcopy(policy)
    changed["escalation"]["manager"]["regex"] = ["(找"]
    with pytest.raises(ConfigError, match=r"^policy escalation\.manager: "):
        escalation.EscalationRules.from_policy(changed)
