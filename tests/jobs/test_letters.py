"""Every scheduled kind renders in every language; words for durations and promises."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipeline import render
from pipeline.jobs import drafts, letters
from pipeline.sla import deadlines, workdays
from pipeline.store import models
from tests.sla.helpers import at

TICKET = models.Ticket(id=7, number="SR-000007", subject="核心交换机宕机", status="open", severity=1, tier="24x7",
                       requester="wang@plant.example.cn", requester_name="王工", timezone="Asia/Shanghai",
                       received_at=at("2026-03-02 10:00"), response_due=at("2026-03-02 10:15"),
                       onsite_due=at("2026-03-02 12:00"), resolve_due=at("2026-03-02 14:00"),
                       escalation_reason="complaint rule matched '投诉'")
CUSTOMER = models.Customer(id=1, name="华东电厂", tier="24x7", timezone="Asia/Shanghai")
VISIT = models.Visit(dedupe_key="revisit:7:2026-03-05", kind="revisit", mode="onsite", date=date(2026, 3, 5),
                     starts_at=at("2026-03-05 10:00"), job_key="revisit:7:2026-03-05")
CALL = models.Call(id=3, call_sid="CA3", from_number="+8613800138000", callback_due=at("2026-03-02 22:15"))


@pytest.mark.parametrize("language", ["zh-Hans", "zh-Hant", "en"])
@pytest.mark.parametrize("kind", [k for k in drafts.KINDS])
def test_every_kind_renders(kind: str, language: str, service: deadlines.ServicePolicy,
                            calendar: workdays.WorkCalendar) -> None:
    facts = letters.Facts(kind, language, "Asia/Shanghai", TICKET, CUSTOMER, "response", VISIT, CALL,
                          ({"number": "SR-000007", "subject": "核心交换机宕机"},), "2026-03", "王工")
    rendered = letters.letter(render.Templates(), facts, service, calendar, at("2026-03-02 11:05"))
    assert rendered.language == language and rendered.subject and rendered.text.strip()
    if kind in ("sla_warning", "sla_escalation", "escalation", "revisit", "revisit_reminder"):
        assert "SR-000007" in rendered.subject
    if kind == "sla_escalation":
        assert {"zh-Hans": "50分钟", "zh-Hant": "50分鐘", "en": "50 min"}[language] in rendered.text
    if kind == "callback_notice":
        assert "22:15" in rendered.text and len(rendered.text.strip()) <= (70 if language != "en" else 160)  # one SMS


@pytest.mark.parametrize(("language", "promise"), [("zh-Hans", "承诺：2小时"), ("zh-Hant", "承諾：2小時"),
                                                   ("en", "promise: 2 h")])
@pytest.mark.parametrize("kind", ["sla_warning", "sla_escalation"])
def test_sla_letters_state_the_customers_own_promise(kind: str, language: str, promise: str,
                                                     service: deadlines.ServicePolicy,
                                                     calendar: workdays.WorkCalendar) -> None:
    # Level 1 promises restore in 4 h; this customer's contract promises 2 h, and its deadline says so.
    customer = models.Customer(id=2, name="华北电网", tier="24x7", timezone="Asia/Shanghai",
                               policy_overrides={"levels": {"1": {"resolve": "2h"}}})
    ticket = models.Ticket(id=8, number="SR-000008", subject="核心交换机宕机", status="open", severity=1,
                           tier="24x7", requester="li@grid.example.cn", requester_name="李工", customer_id=2,
                           timezone="Asia/Shanghai", received_at=at("2026-03-02 10:00"),
                           response_due=at("2026-03-02 10:15"), onsite_due=at("2026-03-02 12:00"),
                           resolve_due=at("2026-03-02 12:00"))
    facts = letters.Facts(kind, language, "Asia/Shanghai", ticket, customer, "resolve")
    rendered = letters.letter(render.Templates(), facts, service, calendar, at("2026-03-02 11:30"))
    assert promise in rendered.text
    department = letters.letter(render.Templates(), letters.Facts(kind, language, "Asia/Shanghai", TICKET, CUSTOMER,
                                                                  "resolve"), service, calendar, at("2026-03-02 11:30"))
    assert promise.replace("2", "4") in department.text


@pytest.mark.parametrize(
    ("text", "language", "words"),
    [("15m", "zh-Hans", "15分钟"), ("1h30m", "en", "1 h 30 min"), ("5bd", "zh-Hant", "5個工作日"),
     ("next_business_day", "en", "close of the next business day"), ("1d", "en", "1 d"), ("", "en", "")],
)
def test_target_words(text: str, language: str, words: str) -> None:
    assert letters.target_words(text, language) == words


def test_duration_words_never_negative() -> None:
    assert letters.duration_words(timedelta(seconds=-5), "en") == "0 min"
    assert letters.duration_words(timedelta(days=1, minutes=61), "zh-Hans") == "1天1小时1分钟"
