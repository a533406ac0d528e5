"""Who is reminded of a missed call, and how: the callback_notify entries."""

from __future__ import annotations

import pytest

from pipeline.calls import followups


@pytest.mark.parametrize(("entry", "expected"), [
    ("oncall@support.example", ("callback_reminder", "email", "oncall@support.example")),
    ("+8613900139000", ("callback_reminder", "sms", "+8613900139000")),
    ("call:+8613900139000", ("callback_call", "call", "+8613900139000")),
])
def test_each_entry_gets_its_channel(entry: str, expected: tuple[str, str, str]) -> None:
    assert followups.reminder_channel(entry) == expected
