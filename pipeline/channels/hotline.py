"""The Twilio hotline webhooks: check the signature, store and apply the request, answer TwiML.

    POST /hotline/voice            a call comes in (and our own steps: ?step=language|dialed|recorded)
    POST /hotline/status           status changes of the caller's leg and of each dialled engineer
    POST /hotline/recording        a voicemail recording is ready (or absent)
    POST /hotline/transcription    Twilio's transcription of it

Every route sits behind TwilioSignatureMiddleware (403 / 413 before anything runs). A handler turns the
request into a `state.Event`, runs `calls.service.record` in a worker thread (one short transaction,
committed before we answer) and renders the answer. Twilio gives up after 15 s; we aim at milliseconds.
On SQLite this process sends its hotline writes through one lock, so concurrent requests queue here
instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from pipeline.calls import service, state
from pipeline.calls.context import Context
from pipeline.channels import hotline_twiml as twiml
from pipeline.errors import StoreUnavailable
from pipeline.runtime import Runtime
from pipeline.store import db
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
        self.lock: Any = threading.Lock() if rt.settings.is_sqlite else contextlib.nullcontext()

    def record(self, event: state.Event) -> service.Recorded | bool:
        """Store and apply one request (in a worker thread): the TwiML plan, True for a callback, False when
        it was stored but could not be applied (logged, kept with its error). StoreUnavailable: not stored."""
        now = self.rt.now()
        with self.lock:
            try:
                with db.transaction(self.rt.sessions) as session:
                    return service.record(session, self.ctx, event, now) or True
            except StoreUnavailable:
                raise
            except Exception as exc:  # the per-item guard: keep the request with its error, answer anyway
                log.exception("hotline %s %s could not be applied", event.kind, event.call_sid)
                with db.transaction(self.rt.sessions) as session:
                    service.store_event(session, event, now, error=f"{type(exc).__name__}: {exc}"[:2000])
                return False

    async def _run(self, request: Request, kind: str) -> tuple[service.Recorded | bool, Response | None]:
        params: dict[str, str] = request.scope.get("state", {}).get(PARAMS_KEY, {})
        event = state.event_from(kind, params)
        if not event.call_sid:
            return False, PlainTextResponse("CallSid missing", status_code=400)
        try:
            return await run_in_threadpool(self.record, event), None
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
        if kind == "voice":
            body = twiml.greeting(self.options, plan, self.urls)
        elif kind == "gather":
            body = twiml.route(self.options, plan, self.urls)
        elif kind == "dial":
            body = twiml.after_dial(self.options, plan, self.urls)
        else:
            body = twiml.goodbye(self.options, plan)
        return Response(body, media_type=XML)

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
