"""triage_mail and grade_text: every decision for one mail, built from the shipped policy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from pipeline import triage
from pipeline.errors import ConfigError
from pipeline.records import ParsedMail, Severity, Triage

OWN = {"own_addresses": frozenset({"support@vendor.example"}), "own_domains": frozenset({"vendor.example"})}

FIRST_MAIL = (
    "您好，我们的核心交换机今天早上开始宕机，全网业务中断，请尽快派工程师。\n\n"
    "Best regards,\nZhang San\nNetwork Engineer\nACME Corp\n\n"
    "This email and any attachments are confidential. If you are not the intended recipient, delete it."
)
REPLY = (
    "問題還在，我要投訴。\n\n"
    "於 2025年1月6日 週一 上午10:00，技術支援 <support@vendor.example> 寫道：\n"
    "> 您好，我們已經遠端重啟了服務，請確認是否恢復正常。\n"
)
BOUNCE = (
    "This is the mail system at host mx.customer.example.\n\nI'm sorry to have to inform you that your message"
    " could not be delivered to one or more recipients.\n\n<zs@customer.example>: mailbox full"
)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"subject": "核心交换机故障", "text": FIRST_MAIL, "message_id": "m1@customer.example"},
            Triage(
                language="zh-Hans",
                severity=Severity.CRITICAL,
                severity_reason="level 1: outage rule matched '宕机'",
                automatic=None,
                ticket_ref=None,
                thread_ids=(),
                text="您好，我们的核心交换机今天早上开始宕机，全网业务中断，请尽快派工程师。",
            ),
        ),
        (
            {
                "subject": "回覆：[SR-000042] 伺服器當機",
                "text": REPLY,
                "in_reply_to": ("<ack-42@vendor.example>",),
                "references": ("<m1@customer.example>", "<ack-42@vendor.example>"),
            },
            Triage(
                language="zh-Hant",
                severity=Severity.CRITICAL,
                severity_reason="level 1: outage rule matched '當機'",
                automatic=None,
                ticket_ref="SR-000042",
                thread_ids=("ack-42@vendor.example", "m1@customer.example"),
                text="問題還在，我要投訴。",
                escalation="complaint rule matched '投訴'",
            ),
        ),
        (
            {
                "subject": "自动回复：[SR-000042] 核心交换机故障",
                "text": "您好，我正在休假，1月10日返回，急事请联系李四。",
                "from_addr": "zhangsan@customer.example",
            },
            Triage(
                language="zh-Hans",
                severity=Severity.MINOR,
                severity_reason="level 3: degradation rule matched '故障'",
                automatic="auto-reply: subject '自动回复：[SR-000042] 核心交换机故障'",
                ticket_ref="SR-000042",
                thread_ids=(),
                text="您好，我正在休假，1月10日返回，急事请联系李四。",
            ),
        ),
        (
            {
                "subject": "Undelivered Mail Returned to Sender",
                "text": BOUNCE,
                "from_addr": "mailer-daemon@mx.customer.example",
                "return_path": "",
                "content_type": "multipart/report",
                "part_types": ("multipart/report", "text/plain", "message/delivery-status", "text/rfc822-headers"),
                "embedded_message_ids": ("ack-42@vendor.example",),
            },
            Triage(
                language="en",
                severity=Severity.MINOR,
                severity_reason="level 3: default, no rule matched",
                automatic="bounce: multipart/report delivery-status",
                ticket_ref=None,
                thread_ids=(),
                text=BOUNCE,
                bounce_of=("ack-42@vendor.example",),
            ),
        ),
        (
            {"subject": "", "text": "", "attachments": ()},
            Triage(
                language="en",
                severity=Severity.MINOR,
                severity_reason="level 3: default, no rule matched",
                automatic=None,
                ticket_ref=None,
                thread_ids=(),
                text="",
            ),
        ),
        (
            # an empty body: the subject decides the language
            {"subject": "Re: [SR-000042] 設備當機", "text": ""},
            Triage(
                language="zh-Hant",
                severity=Severity.CRITICAL,
                severity_reason="level 1: outage rule matched '當機'",
                automatic=None,
                ticket_ref="SR-000042",
                thread_ids=(),
                text="",
            ),
        ),
        (
            # a bare forward: no words of the customer's own, so the forwarded text is graded
            {
                "subject": "FW: alarm",
                "text": "-----Original Message-----\nFrom: NMS\nSent: Monday\n\nCore router is down",
            },
            Triage(
                language="en",
                severity=Severity.CRITICAL,
                severity_reason="level 1: outage rule matched 'down'",
                automatic=None,
                ticket_ref=None,
                thread_ids=(),
                text="",
            ),
        ),
        (
            {"subject": "Router", "text": "Please let me speak to a manager.", "from_addr": "ops@vendor.example"},
            Triage(
                language="en",
                severity=Severity.MINOR,
                severity_reason="level 3: default, no rule matched",
                automatic="own address: domain vendor.example",
                ticket_ref=None,
                thread_ids=(),
                text="Please let me speak to a manager.",
                escalation="manager rule matched 'speak to a manager'",
            ),
        ),
    ],
    ids=["first mail", "traditional reply", "out of office", "bounce", "empty", "subject only", "bare forward", "own"],
)
def test_triage_mail(
    fields: dict[str, Any],
    expected: Triage,
    rules: triage.TriageRules,
    mail_factory: Callable[..., ParsedMail],
) -> None:
    assert triage.triage_mail(mail_factory(**fields), rules, **OWN) == expected


def test_bounce_of_is_empty_for_a_forward_with_embedded_ids(
    rules: triage.TriageRules, mail_factory: Callable[..., ParsedMail]
) -> None:
    mail = mail_factory(subject="Fwd: 设备故障", embedded_message_ids=("x@customer.example",))
    assert triage.triage_mail(mail, rules).bounce_of == ()


def test_ticket_prefix_is_configurable(policy: dict[str, Any], mail_factory: Callable[..., ParsedMail]) -> None:
    rules = triage.TriageRules.from_policy(policy, ticket_prefix="CS")
    mail = mail_factory(subject="Re: [CS-000007] 设备宕机", text="")
    result = triage.triage_mail(mail, rules)
    assert (rules.ticket_prefix, result.ticket_ref, result.language) == ("CS", "CS-000007", "zh-Hans")


@pytest.mark.parametrize(
    ("transcript", "graded"),
    [
        ("喂你好我们这边的服务器宕机了麻烦派人过来", (Severity.CRITICAL, "level 1: outage rule matched '宕机'")),
        ("请问一下这个设备怎么升级", (Severity.QUESTION, "level 4: question rule matched '请问'")),
        ("hello I have a question about the license", (Severity.QUESTION, "level 4: question rule matched 'question'")),
        ("", (Severity.MINOR, "level 3: default, no rule matched")),
    ],
)
def test_grade_text(transcript: str, graded: tuple[Severity, str], rules: triage.TriageRules) -> None:
    assert triage.grade_text(transcript, rules) == graded


@pytest.mark.parametrize("section", ["severity", "automatic", "escalation"])
def test_from_policy_needs_every_section(policy: dict[str, Any], section: str) -> None:
    changed = copy.deepcopy(policy)
    del changed[section]
    with pytest.raises(ConfigError, match=rf"policy \[{section}\] is missing"):
        triage.TriageRules.from_policy(changed)


def test_rules_are_frozen(rules: triage.TriageRules) -> None:
    with pytest.raises(AttributeError):
        rules.ticket_prefix = "XX"  # type: ignore[misc]
