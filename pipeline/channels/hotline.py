"""The Twilio hotline webhooks: check the signature, store and apply the request, answer TwiML.

    POST /hotline/voice            a call comes in (and our own steps: ?step=language|dialed|recorded)
    POST /hotline/status           status changes of the caller's leg and of each dialled engineer
    POST /hotline/recording        a voicemail recording is ready (or absent)
    POST /hotline/transcription    Twilio's transcription of it

Every route sits behind TwilioSignatureMiddleware (403 / 413 before anything runs). A handler turns the
request into a `state.Event`, hands it to the writer (hotline_writer: `calls.service.record` off the
event loop, committed before we answer) and renders the answer. Twilio gives up after 15 s; we aim at
milliseconds.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from pipeline.calls import service, state
from pipeline.calls.context import Context
from pipeline.channels import hotline_twiml as twiml
from pipeline.channels import hotline_writer
from pipeline.errors import StoreUnavailable
from pipeline.runtime import Runtime
from pipeline.stt import jobs as stt_jobs  # noqa: F401  registers the "transcribe" job handler
from pipeline.web.twilio_signature import PARAMS_KEY, TwilioSignatureMiddleware

log = logging.getLogger(__name__)

STEPS = {"": "voice", "language": "gather", "dialed": "dial", "recorded": "record"}
XML = "text/xml"


class Hotline:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.ctx = Context.from_runtime(rt)
        self.options = rt.settings.hotline
        self.urls = twiml.Urls((rt.settings.public_url or "").rstrip("/"))
        self.writer = hotline_writer.GroupWriter(rt, self.ctx, threads=hotline_writer.writers(rt))
        self.render = functools.lru_cache(maxsize=256)(self._render)  # a handful of distinct answers

    def _render(self, kind: str, plan: service.Recorded) -> str:
        if kind == "voice":
            return twiml.greeting(self.options, plan, self.urls)
        if kind == "gather":
            return twiml.route(self.options, plan, self.urls)
        if kind == "dial":
            return twiml.after_dial(self.options, plan, self.urls)
        return twiml.goodbye(self.options, plan)

    async def _run(self, request: Request, kind: str) -> tuple[hotline_writer.Result, Response | None]:
        params: dict[str, str] = request.scope.get("state", {}).get(PARAMS_KEY, {})
        event = state.event_from(kind, params)
        if not event.call_sid:
            return False, PlainTextResponse("CallSid missing", status_code=400)
        try:
            return await self.writer.submit(event), None
        except StoreUnavailable as exc:
            log.warning("hotline %s %s not stored, answered 503: %s", kind, event.call_sid, exc)
            return False, PlainTextResponse("temporarily unavailable, retry", status_code=503)

    async def voice(self, request: Request) -> Response:
        step = request.query_params.get("step", "")
        kind = STEPS.get(step)
        if kind is None:
            return PlainTextResponse(f"unknown step {step!r}", status_code=404)
        plan, failed = await self._run(request, kind)
        if failed is not None:
            return failed
        if not isinstance(plan, service.Recorded):  # stored, but not applied: still take a message
            return Response(twiml.fallback(self.options, self.urls), media_type=XML)
        # the answer depends on the plan's language, route, numbers and flags only: cache it by those
        key = dataclasses.replace(plan, fresh=True, call_sid="")
        return Response(self.render(kind, key), media_type=XML)

    def callback(self, kind: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            _, failed = await self._run(request, kind)
            return failed or Response(twiml.empty(), media_type=XML)

        return endpoint


def routes(rt: Runtime) -> list[BaseRoute]:
    """The HTTP routes of the hotline, mounted by pipeline.web.app."""
    hotline = Hotline(rt)
    methods = ["GET", "POST"]  # Twilio may be set to either
    router = Router(routes=[
        Route("/voice", hotline.voice, methods=methods),
        Route("/status", hotline.callback("status"), methods=methods),
        Route("/recording", hotline.callback("recording"), methods=methods),
        Route("/transcription", hotline.callback("transcription"), methods=methods),
    ])
    guarded = TwilioSignatureMiddleware(router, auth_token=rt.settings.twilio_auth_token,
                                        public_url=rt.settings.public_url,
                                        max_body_bytes=rt.settings.hotline.max_body_bytes)
    return [Mount("/hotline", app=guarded)]
