"""The pure rules of a call's state: whatever order Twilio's reports come in, the same final state."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from pipeline.calls import state

PARENT = [("ringing", 0), ("in-progress", 1), ("completed", 2)]


def fold_parent(reports: list[tuple[str, int | None]]) -> str | None:
    current, seq = None, -1
    for status, number in reports:
        if state.call_status_advances(current, seq, status, number):
            current = status
            if number is not None:
                seq = max(seq, number)
    return current


@pytest.mark.parametrize("order", list(itertools.permutations(PARENT)))
def test_caller_leg_ends_completed_in_any_order(order: tuple[tuple[str, int], ...]) -> None:
    assert fold_parent(list(order)) == "completed"


@pytest.mark.parametrize("order", list(itertools.permutations([("ringing", 0), ("in-progress", 1)])))
def test_later_sequence_wins_before_the_end(order: tuple[tuple[str, int], ...]) -> None:
    assert fold_parent(list(order)) == "in-progress"


@pytest.mark.parametrize(("reports", "final"), [
    ([("completed", None), ("ringing", None)], "completed"),  # never downgraded, with or without sequence
    ([("busy", 3), ("ringing", 0), ("in-progress", 1)], "busy"),
    ([("ringing", None), ("in-progress", None)], "in-progress"),
    ([("in-progress", None), ("ringing", None)], "in-progress"),
    ([("completed", 2), ("completed", 2)], "completed"),  # a retry changes nothing
])
def test_terminal_states_are_never_downgraded(reports: list[tuple[str, int | None]], final: str) -> None:
    assert fold_parent(reports) == final


LEGS = ["initiated", "ringing", "in-progress", "completed", "canceled"]  # two numbers rung together


@pytest.mark.parametrize("order", list(itertools.permutations(LEGS)))
def test_any_answer_beats_every_miss(order: tuple[str, ...]) -> None:
    merged = None
    for status in order:
        merged = state.dial_status_merge(merged, status)
    assert merged == "completed"


@pytest.mark.parametrize(("call_status", "dial_status", "route", "final", "missed"), [
    ("completed", "completed", "dial", "completed", None),
    ("completed", "no-answer", "voicemail", "no-answer", "no-answer"),
    ("completed", "busy", "voicemail", "busy", "busy"),
    ("completed", None, "voicemail", "no-answer", "voicemail"),
    ("canceled", None, "dial", "canceled", "canceled"),
    ("failed", None, None, "failed", "failed"),
    ("busy", None, None, "busy", "busy"),
    ("in-progress", None, "dial", "in-progress", None),
    ("in-progress", "in-progress", "dial", "in-progress", None),
    ("ringing", None, None, "ringing", None),
    (None, "completed", None, "in-progress", None),
    ("completed", None, "dial", "no-answer", "no-answer"),  # hung up while the engineer's phone rang
])
def test_final_status_says_what_the_caller_got(call_status: str | None, dial_status: str | None, route: str | None,
                                               final: str, missed: str | None) -> None:
    assert state.final_status(call_status, dial_status) == final
    assert state.missed_reason(call_status, dial_status, route) == missed


def test_dedupe_keys_separate_reports_and_join_retries() -> None:
    status = {"CallSid": "CA1", "CallStatus": "completed", "SequenceNumber": "2"}
    assert state.event_from("status", status).dedupe_key == state.event_from("status", dict(status)).dedupe_key
    keys = {
        state.event_from("status", status).dedupe_key,
        state.event_from("status", {**status, "CallStatus": "ringing", "SequenceNumber": "0"}).dedupe_key,
        state.event_from("status", {**status, "ParentCallSid": "CA0", "CallSid": "CA2"}).dedupe_key,
        state.event_from("recording", {"CallSid": "CA1", "RecordingSid": "RE1",
                                       "RecordingStatus": "completed"}).dedupe_key,
        state.event_from("transcription", {"CallSid": "CA1", "TranscriptionSid": "TR1"}).dedupe_key,
        state.event_from("voice", {"CallSid": "CA1"}).dedupe_key,
    }
    assert len(keys) == 6
    child = state.event_from("status", {**status, "ParentCallSid": "CA0", "CallSid": "CA2"})
    assert (child.kind, child.call_sid, child.leg_sid) == ("dial-status", "CA0", "CA2")


@pytest.mark.parametrize(("business", "tier", "numbers"), [
    (True, "8x5", ("+8613900139000",)),
    (False, "8x5", ()),
    (False, "24x7", ("+8613700137000",)),
])
def test_route_by_time_of_day_and_tier(business: bool, tier: str, numbers: tuple[str, ...]) -> None:
    route, dialled = state.route_for(["+8613900139000"], ["+8613700137000"], ["24x7"], tier, business)
    assert dialled == numbers and route == ("dial" if numbers else "voicemail")


@pytest.mark.parametrize(("number", "language", "sms"), [
    ("+8613800138000", "zh-Hans", True),   # mobile
    ("+862155550100", "zh-Hans", False),   # Shanghai landline: no SMS
    ("+85291234567", "zh-Hant", True),
    ("+447776251669", "en", True),
    (None, "zh-Hans", False),
])
def test_language_guess_and_sms_capability(number: str | None, language: str, sms: bool) -> None:
    assert state.language_for_number(number, "zh-Hans") == language
    assert state.can_take_sms(number) is sms


def test_twilio_timestamp_is_used_when_present() -> None:
    received = datetime(2026, 1, 1, tzinfo=UTC)
    assert state.reported_at({"Timestamp": "Tue, 25 Jun 2019 07:14:39 +0000"}, received) == datetime(
        2019, 6, 25, 7, 14, 39, tzinfo=UTC)
    assert state.reported_at({"Timestamp": "garbage"}, received) == received


@pytest.mark.parametrize(("kind", "params", "over"), [
    ("record", {"RecordingSid": "RE1", "Digits": "hangup"}, True),  # the <Record> action: goodbye, hang up
    ("recording", {"RecordingStatus": "completed"}, True),
    ("recording", {"RecordingStatus": "absent"}, True),  # nothing was said, but the recording stopped
    ("recording", {"RecordingStatus": "in-progress"}, False),
    ("voice", {"CallStatus": "ringing"}, False),  # the caller is in the IVR
    ("dial", {"DialCallStatus": "no-answer"}, False),  # about to leave a voicemail
    ("status", {"CallStatus": "completed"}, False),  # the end of the call itself: ended_at says so
])
def test_which_requests_end_a_voicemail(kind: str, params: dict[str, str], over: bool) -> None:
    assert state.ends_voicemail(state.event_from(kind, {"CallSid": "CA1", **params})) is over
