"""Jobs that leave through Twilio: SMS (channel "sms") and outbound calls (channel "call").

The worker runs them by channel (pipeline.jobs.worker.CHANNELS), whatever their kind: a missed call's
notice to the caller, a callback reminder to an engineer. Our From is INTAKE_TWILIO_NUMBER.

An outbound call reads the job's text to the engineer in their language and then, when the job names
the caller, connects the two: the callback itself.
"""

from __future__ import annotations

from datetime import datetime

from twilio.twiml.voice_response import VoiceResponse

from pipeline.jobs import twilio_api
from pipeline.jobs.mailer import PermanentFailure
from pipeline.runtime import Runtime
from pipeline.store import models


def _from_number(rt: Runtime) -> str:
    if not rt.settings.twilio_number:
        raise PermanentFailure("INTAKE_TWILIO_NUMBER (our SMS/call From number) is not set")
    return rt.settings.twilio_number


def send_sms(rt: Runtime, job: models.Job, now: datetime) -> str | None:
    if not job.recipient:
        raise PermanentFailure("the SMS job has no recipient")
    client = twilio_api.client(rt.settings)
    message = twilio_api.call_api(client.messages.create, to=job.recipient, from_=_from_number(rt),
                                  body=job.body_text or "")
    return f"SMS {message.sid} {message.status or ''}".strip()


def call_twiml(rt: Runtime, job: models.Job) -> str:
    """Say the reminder, then put the engineer through to the caller."""
    options = rt.settings.hotline
    prompt = options.prompts.get(job.language or "") or options.prompts[options.default_language]
    response = VoiceResponse()
    attributes = {"language": prompt.say_language, **({"voice": prompt.voice} if prompt.voice else {})}
    response.say(job.body_text or "", **attributes)
    caller = (job.payload or {}).get("caller")
    if caller:
        response.dial(caller, timeout=options.dial_timeout_s, caller_id=_from_number(rt))
    return str(response.to_xml())


def place_call(rt: Runtime, job: models.Job, now: datetime) -> str | None:
    if not job.recipient:
        raise PermanentFailure("the call job has no recipient")
    client = twilio_api.client(rt.settings)
    call = twilio_api.call_api(client.calls.create, to=job.recipient, from_=_from_number(rt),
                               twiml=call_twiml(rt, job))
    return f"call {call.sid} {call.status or ''}".strip()
