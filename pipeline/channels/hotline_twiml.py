"""The TwiML the hotline answers with, built by the twilio library from the plan the service returned.

Pure: options, the call's plan and our public URLs in, an XML string out. One <Say> per language, each
with its configured `language` (zh-CN, en-US, ...) and voice. Steps of one call:

    voice     greeting in every language inside <Gather> (a key picks the language), then the route
    language  the route in the chosen language
    route     <Dial> the on-call engineer(s) with a timeout and status callbacks, or voicemail
    dialed    nobody answered: voicemail; somebody did: hang up
    recorded  thank the caller and hang up
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import Dial, VoiceResponse

from pipeline.calls.service import Recorded
from pipeline.settings import HotlineOptions, VoicePrompt

NUMBER_EVENTS = "initiated ringing answered completed"


@dataclass(frozen=True)
class Urls:
    """Absolute URLs of our webhooks, on the public base Twilio calls (and signs)."""

    base: str

    def voice(self, step: str) -> str:
        return f"{self.base}/hotline/voice?step={step}"

    @property
    def status(self) -> str:
        return f"{self.base}/hotline/status"

    @property
    def recording(self) -> str:
        return f"{self.base}/hotline/recording"

    @property
    def transcription(self) -> str:
        return f"{self.base}/hotline/transcription"


def prompt_for(options: HotlineOptions, language: str) -> VoicePrompt:
    return options.prompts.get(language) or options.prompts[options.default_language]


def _say(parent: VoiceResponse | object, prompt: VoicePrompt, text: str) -> None:
    if text:
        attributes = {"language": prompt.say_language}
        if prompt.voice:
            attributes["voice"] = prompt.voice
        parent.say(text, **attributes)  # type: ignore[attr-defined]


def greeting(options: HotlineOptions, plan: Recorded, urls: Urls) -> str:
    """The first answer: the greeting and the language choice (the caller's likely language first)."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, timeout=options.gather_timeout_s, action=urls.voice("language"),
                             method="POST")
    ordered = sorted(options.prompts.items(), key=lambda item: item[0] != plan.language)
    for _, prompt in ordered:
        _say(gather, prompt, f"{prompt.greeting} {prompt.choose}" if prompt.digit else prompt.greeting)
    _route(response, options, plan, urls)
    return str(response.to_xml())


def route(options: HotlineOptions, plan: Recorded, urls: Urls) -> str:
    response = VoiceResponse()
    _route(response, options, plan, urls)
    return str(response.to_xml())


def _route(response: VoiceResponse, options: HotlineOptions, plan: Recorded, urls: Urls) -> None:
    prompt = prompt_for(options, plan.language)
    if plan.route == "dial" and plan.numbers:
        _say(response, prompt, prompt.connecting)
        dial = Dial(timeout=options.dial_timeout_s, action=urls.voice("dialed"), method="POST")
        for number in plan.numbers:
            dial.number(number, status_callback=urls.status, status_callback_event=NUMBER_EVENTS,
                        status_callback_method="POST")
        response.append(dial)
        return
    _voicemail(response, options, plan, urls)


def _voicemail(response: VoiceResponse, options: HotlineOptions, plan: Recorded, urls: Urls) -> None:
    prompt = prompt_for(options, plan.language)
    _say(response, prompt, prompt.voicemail)
    extra = {"transcribe": True, "transcribe_callback": urls.transcription} if plan.transcribe else {}
    response.record(action=urls.voice("recorded"), method="POST", max_length=options.record_max_length_s,
                    timeout=options.record_timeout_s, finish_on_key="#", play_beep=True,
                    recording_status_callback=urls.recording, recording_status_callback_method="POST",
                    recording_status_callback_event="completed absent", **extra)
    # reached only when nothing was recorded: Twilio then goes on with the next verb
    _say(response, prompt, prompt.goodbye)
    response.hangup()


def after_dial(options: HotlineOptions, plan: Recorded, urls: Urls) -> str:
    """The <Dial> ended: hang up after a conversation, else take a voicemail."""
    response = VoiceResponse()
    if plan.answered:
        response.hangup()
    else:
        _voicemail(response, options, plan, urls)
    return str(response.to_xml())


def goodbye(options: HotlineOptions, plan: Recorded) -> str:
    response = VoiceResponse()
    prompt = prompt_for(options, plan.language)
    _say(response, prompt, prompt.goodbye)
    response.hangup()
    return str(response.to_xml())


def empty() -> str:
    """For the callbacks Twilio only wants acknowledged."""
    return str(VoiceResponse().to_xml())


def fallback(options: HotlineOptions, urls: Urls) -> str:
    """When our store fails mid-request the caller still hears something and may leave a message, whose
    recording callback then reaches us again."""
    response = VoiceResponse()
    prompt = prompt_for(options, options.default_language)
    _say(response, prompt, prompt.voicemail)
    response.record(max_length=options.record_max_length_s, timeout=options.record_timeout_s, finish_on_key="#",
                    play_beep=True, recording_status_callback=urls.recording, recording_status_callback_method="POST",
                    recording_status_callback_event="completed absent")
    response.hangup()
    return str(response.to_xml())
