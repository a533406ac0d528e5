"""The TwiML the hotline answers with: valid XML, one <Say> per language as configured, the right verbs."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pipeline.calls.service import Recorded
from pipeline.channels import hotline_twiml as twiml
from pipeline.settings import HotlineOptions

URLS = twiml.Urls("https://intake.example.cn")
DIAL = Recorded(True, "CA1", "zh-Hans", "dial", ("+8613900139000", "+8613700137000"), False, False)
VOICEMAIL = Recorded(True, "CA1", "en", "voicemail", (), False, True)


def parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "Response"
    return root


def test_greeting_offers_both_languages_then_dials_everyone_on_call() -> None:
    root = parse(twiml.greeting(HotlineOptions(), DIAL, URLS))
    gather, say, dial = list(root)
    assert (gather.tag, gather.get("numDigits"), gather.get("action")) == (
        "Gather", "1", "https://intake.example.cn/hotline/voice?step=language")
    assert [(s.get("language"), s.get("voice")) for s in gather] == [("zh-CN", "alice"), ("en-US", "alice")]
    assert "普通话请按1" in gather[0].text and "press 2" in gather[1].text
    assert (say.tag, say.get("language")) == ("Say", "zh-CN")
    assert (dial.tag, dial.get("timeout"), dial.get("action")) == (
        "Dial", "20", "https://intake.example.cn/hotline/voice?step=dialed")
    numbers = [(n.text, n.get("statusCallback"), n.get("statusCallbackEvent")) for n in dial]
    assert numbers == [(number, "https://intake.example.cn/hotline/status", "initiated ringing answered completed")
                       for number in DIAL.numbers]


def test_an_english_caller_hears_english_first_and_voicemail_asks_twilio_to_transcribe() -> None:
    root = parse(twiml.greeting(HotlineOptions(), VOICEMAIL, URLS))
    assert [s.get("language") for s in root[0]] == ["en-US", "zh-CN"]
    record = root.find("Record")
    assert record is not None
    assert record.get("transcribe") == "true"
    assert record.get("transcribeCallback") == "https://intake.example.cn/hotline/transcription"
    assert record.get("recordingStatusCallback") == "https://intake.example.cn/hotline/recording"
    assert (record.get("maxLength"), record.get("playBeep"), record.get("finishOnKey")) == ("120", "true", "#")


def test_chinese_voicemail_is_not_sent_to_twilio_transcription() -> None:
    plan = Recorded(True, "CA1", "zh-Hans", "voicemail", (), False, False)
    record = parse(twiml.route(HotlineOptions(), plan, URLS)).find("Record")
    assert record is not None and record.get("transcribe") is None


def test_voices_and_languages_come_from_the_config() -> None:
    options = HotlineOptions(prompts={"zh-Hans": {"voice": "Polly.Zhiyu", "say_language": "cmn-CN"},
                                      "en": {"voice": None}}, record_max_length_s=60, dial_timeout_s=30)
    root = parse(twiml.greeting(options, DIAL, URLS))
    assert [(s.get("language"), s.get("voice")) for s in root[0]] == [("cmn-CN", "Polly.Zhiyu"), ("en-US", None)]
    assert root.find("Dial").get("timeout") == "30"
    record = parse(twiml.after_dial(options, DIAL, URLS)).find("Record")
    assert record is not None and record.get("maxLength") == "60"


@pytest.mark.parametrize(("answered", "verbs"), [(True, ["Hangup"]), (False, ["Say", "Record", "Say", "Hangup"])])
def test_after_the_dial(answered: bool, verbs: list[str]) -> None:
    plan = Recorded(True, "CA1", "zh-Hans", "dial", (), answered, False)
    assert [child.tag for child in parse(twiml.after_dial(HotlineOptions(), plan, URLS))] == verbs


def test_goodbye_and_empty_and_fallback_are_valid() -> None:
    assert [c.tag for c in parse(twiml.goodbye(HotlineOptions(), VOICEMAIL))] == ["Say", "Hangup"]
    assert list(parse(twiml.empty())) == []
    fallback = parse(twiml.fallback(HotlineOptions(), URLS))
    assert [c.tag for c in fallback] == ["Say", "Record", "Hangup"]
    assert fallback[0].get("language") == "zh-CN"
