"""What Twilio's webhook requests mean for a call, as pure functions.

Twilio retries a request that failed or took too long and does not promise any order, so each rule here
gives the same answer whatever order the requests come in and however often:

* the caller's leg (`call_status`) follows SequenceNumber when both requests carry one, else the order
  queued < ringing < in-progress < final, and a final state is never replaced by an earlier one;
* the engineer's leg (`dial_status`) is a maximum over every report from every dialled number: any
  answer beats every miss, so two numbers rung together (one answers, the other is canceled) read
  as answered in either order;
* `final_status` is what the caller got: completed only when a person answered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import phonenumbers

TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
MISSED = TERMINAL - {"completed"}
ANSWERED = frozenset({"in-progress", "answered", "completed"})
_CALL_RANK = {"queued": 0, "initiated": 0, "ringing": 1, "in-progress": 2, "answered": 2}
# the engineer's leg: any answer outranks every miss; of the misses, the most telling wins
_DIAL_RANK = {"queued": 0, "initiated": 0, "ringing": 1, "canceled": 2, "failed": 3, "busy": 4, "no-answer": 5,
              "in-progress": 6, "answered": 6, "completed": 7}
KINDS = ("voice", "gather", "dial", "record", "status", "dial-status", "recording", "transcription")
CHINESE_HANT_REGIONS = frozenset({"HK", "MO", "TW"})


def is_terminal(status: str | None) -> bool:
    return status in TERMINAL


def call_status_advances(current: str | None, current_seq: int, new: str, new_seq: int | None) -> bool:
    """Whether a report of `new` (with its SequenceNumber, if any) replaces the caller leg's `current`."""
    if current is None:
        return True
    if new == current:
        return False
    if is_terminal(current) != is_terminal(new):
        return is_terminal(new)  # a final state is never taken back
    if new_seq is not None and current_seq >= 0:
        return new_seq > current_seq
    return _CALL_RANK.get(new, 3) > _CALL_RANK.get(current, 3)


def dial_status_merge(current: str | None, new: str) -> str:
    """The engineer leg's status after one more report, from any dialled number, in any order."""
    if current is None:
        return new
    return new if _DIAL_RANK.get(new, 0) > _DIAL_RANK.get(current, 0) else current


def is_answered(dial_status: str | None) -> bool:
    return dial_status in ANSWERED


def final_status(call_status: str | None, dial_status: str | None) -> str:
    """What the caller got: Twilio's final state, except that a call nobody answered is not completed."""
    answered = is_answered(dial_status)
    if call_status is None or not is_terminal(call_status):
        if answered:
            return "in-progress"
        return call_status or "ringing"
    if call_status in MISSED or answered:
        return call_status
    return dial_status if dial_status in MISSED else "no-answer"  # voicemail, or hung up while ringing


def missed_reason(call_status: str | None, dial_status: str | None, route: str | None) -> str | None:
    """Why nobody answered, once that is known; None while it may still be answered (or was)."""
    if is_answered(dial_status):
        return None
    if call_status in MISSED:
        return call_status
    if dial_status in MISSED:
        return dial_status
    if route == "voicemail":
        return "voicemail"
    if call_status == "completed":
        return "no-answer"
    return None


@dataclass(frozen=True)
class Event:
    """One webhook request: which call it is about, which leg, and its parameters."""

    kind: str  # one of KINDS
    call_sid: str  # the caller's call (for the engineer's leg: its parent)
    leg_sid: str  # the CallSid Twilio sent
    params: Mapping[str, str]

    @property
    def sequence(self) -> int | None:
        value = self.params.get("SequenceNumber", "")
        return int(value) if value.isdigit() and len(value) < 10 else None  # fits any INTEGER column

    @property
    def dedupe_key(self) -> str:
        """The same for every retry of one request; different for every distinct report."""
        p = self.params
        detail = {
            "voice": "",
            "gather": p.get("Digits", ""),
            "dial": p.get("DialCallSid") or p.get("DialCallStatus", ""),
            "record": p.get("RecordingSid", ""),
            "status": f"{p.get('SequenceNumber', '')}:{p.get('CallStatus', '')}",
            "dial-status": f"{p.get('SequenceNumber', '')}:{p.get('CallStatus', '')}",
            "recording": f"{p.get('RecordingSid', '')}:{p.get('RecordingStatus', '')}",
            "transcription": p.get("TranscriptionSid") or p.get("TranscriptionStatus", ""),
        }[self.kind]
        key = f"{self.kind}:{self.leg_sid}:{detail}"
        return key if len(key) <= 300 else f"{self.kind}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def ends_voicemail(event: Event) -> bool:
    """Whether the request tells that the caller's voicemail is over: the `<Record>` action (the recorded
    step, answered with a goodbye and a hang-up) or the recording's own callback, completed or absent (both
    come only once the recording has stopped). Twilio's final status report ends the call in any case."""
    if event.kind == "record":
        return True
    return event.kind == "recording" and event.params.get("RecordingStatus") in ("completed", "absent")


def event_from(kind: str, params: Mapping[str, str]) -> Event:
    """A status report about a leg we dialled (it has a ParentCallSid) is about the parent call."""
    leg = params.get("CallSid", "").strip()
    parent = params.get("ParentCallSid", "").strip()
    if kind == "status" and parent:
        return Event("dial-status", parent, leg, params)
    return Event(kind, leg, leg, params)


def reported_at(params: Mapping[str, str], received_at: datetime) -> datetime:
    """Twilio's own Timestamp (RFC 2822) when it sent one, else when we received the request."""
    value = params.get("Timestamp", "")
    if value:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return received_at
        if moment.tzinfo is not None:
            return moment
    return received_at


def seconds(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def language_for_number(e164: str | None, default: str) -> str:
    """A first guess before the caller chooses: Chinese for China, traditional for HK/MO/TW, else English."""
    if not e164:
        return default
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return default
    if region == "CN":
        return "zh-Hans"
    if region in CHINESE_HANT_REGIONS:
        return "zh-Hant"
    return "en" if region else default


def can_take_sms(e164: str | None) -> bool:
    """Mobile numbers only: a Chinese landline cannot receive an SMS (Twilio refuses with 21614)."""
    if not e164:
        return False
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def route_for(on_call: list[str], after_hours_on_call: list[str] | None, after_hours_tiers: list[str],
              tier: str, in_business_hours: bool) -> tuple[str, tuple[str, ...]]:
    """("dial", numbers) or ("voicemail", ()): on-call engineers in business hours; at night only
    for the tiers that are promised it."""
    if in_business_hours:
        numbers = on_call
    elif tier in after_hours_tiers:
        numbers = on_call if after_hours_on_call is None else after_hours_on_call
    else:
        numbers = []
    return ("dial", tuple(numbers)) if numbers else ("voicemail", ())
