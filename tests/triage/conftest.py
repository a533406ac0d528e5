"""Shared pieces for the triage tests: the shipped policy, compiled rules, and a ParsedMail factory.

The factory builds ParsedMail by hand so these tests do not depend on pipeline/mail.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline import triage
from pipeline.records import ParsedMail

POLICY_FILE = Path(__file__).parents[2] / "pipeline" / "policy" / "triage.toml"


def make_mail(headers: dict[str, str] | None = None, **fields: Any) -> ParsedMail:
    """A plain human mail from a customer; override any ParsedMail field, pass extra headers as a dict."""
    values: dict[str, Any] = {
        "message_id": "c1@customer.example",
        "in_reply_to": (),
        "references": (),
        "from_name": "张三",
        "from_addr": "zhangsan@customer.example",
        "return_path": "zhangsan@customer.example",
        "reply_to": None,
        "to": ("support@vendor.example",),
        "cc": (),
        "subject": "设备故障",
        "date": None,
        "text": "你好，设备有问题。",
        "html": None,
        "attachments": (),
        "headers": (),
        "content_type": "text/plain",
        "part_types": ("text/plain",),
        "decoding": (),
    }
    values.update(fields)
    if headers:
        values["headers"] = tuple((name.lower(), value) for name, value in headers.items())
    return ParsedMail(**values)


@pytest.fixture(scope="session")
def policy() -> dict[str, Any]:
    with POLICY_FILE.open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="session")
def rules(policy: dict[str, Any]) -> triage.TriageRules:
    return triage.TriageRules.from_policy(policy)


@pytest.fixture
def mail_factory() -> Callable[..., ParsedMail]:
    return make_mail
