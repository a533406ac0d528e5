"""What a missed call owes: who is reminded and how (the callback_notify entries), by when the callback is
due, and what the caller's notice says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline import render
from pipeline.calls import followups
from pipeline.store import models


@pytest.mark.parametrize(("entry", "expected"), [
    ("oncall@support.example", ("callback_reminder", "email", "oncall@support.example")),
    ("+8613900139000", ("callback_reminder", "sms", "+8613900139000")),
    ("call:+8613900139000", ("callback_call", "call", "+8613900139000")),
])
def test_each_entry_gets_its_channel(entry: str, expected: tuple[str, str, str]) -> None:
    assert followups.reminder_channel(entry) == expected


NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
LIMIT = NOW + timedelta(minutes=30)  # the tier's callback limit


def ticket(response_due: datetime | None, first_response_at: datetime | None = None) -> models.Ticket:
    return models.Ticket(number="SR-000007", response_due=response_due, first_response_at=first_response_at)


@pytest.mark.parametrize(("owner", "expected"), [
    (None, LIMIT),  # no ticket (yet)
    (ticket(NOW + timedelta(minutes=4)), NOW + timedelta(minutes=4)),  # SR-000007: the response comes first
    (ticket(NOW + timedelta(hours=2)), LIMIT),  # the limit comes first
    (ticket(NOW + timedelta(minutes=4), first_response_at=NOW - timedelta(minutes=5)), LIMIT),  # answered already
    (ticket(NOW - timedelta(minutes=1)), LIMIT),  # late already: the response's escalation says so
    (ticket(NOW), LIMIT),  # "at once" (0m): kept by the acknowledgement
    (ticket(None), LIMIT),  # the level promises no response time
])
def test_the_callback_is_due_by_the_response_the_ticket_still_owes(owner: models.Ticket | None,
                                                                   expected: datetime) -> None:
    assert followups.callback_deadline(LIMIT, owner, NOW) == expected


CALL_WORDS = {"zh-Hans": "来电", "zh-Hant": "來電", "en": "call"}
MAIL_WORDS = ("来信", "來信", "your message", "your mail")  # the acknowledgement's words


@pytest.mark.parametrize("language", sorted(CALL_WORDS))
@pytest.mark.parametrize("kind", ["sms", "callback_notice"])  # the hotline's SMS, and the planner's
def test_a_missed_call_notice_speaks_of_the_call(kind: str, language: str) -> None:
    due, caller = "2026-03-02 11:15 (UTC+08:00)", "+8613800138000"
    context = {"call": {"from": caller, "callback_due": due}, "caller": caller, "customer": "华东电厂",
               "ticket": ticket(LIMIT), "number": "SR-000007", "missed": "voicemail", "callback_due": due,
               "tier": "24x7", "language": language}
    rendered = render.Templates().render(kind, language, context)
    assert rendered.language == language
    text = rendered.text.strip()
    assert CALL_WORDS[language] in text.lower() and "SR-000007" in text and "11:15" in text
    assert not any(word in f"{rendered.subject} {text}".lower() for word in MAIL_WORDS)
