"""An ASGI middleware that lets through only requests Twilio signed for our public URL.

Twilio signs `public URL + path + query` followed by the sorted form parameters (HMAC-SHA1 with the
account's Auth Token, header X-Twilio-Signature). Behind a TLS-terminating proxy the URL this process
sees differs from the one Twilio called, so the URL is rebuilt from `public_url` in the settings, never
from the request's Host. The body is read here once, bounded: over `max_body_bytes` is 413, a missing
or wrong signature 403, and in both cases the app behind never runs, so nothing changes.

Shaped like starlette's TrustedHostMiddleware: `__init__(app, **options)` and `__call__`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

log = logging.getLogger(__name__)

PARAMS_KEY = "twilio_params"  # request.state.twilio_params: the validated parameters, first value each


class FormParams:
    """Form parameters with every value kept, as RequestValidator wants them (it calls getall)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    def __iter__(self) -> Iterator[str]:  # RequestValidator iterates the names
        return iter(dict.fromkeys(name for name, _ in self.pairs))

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def first(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for name, value in self.pairs:
            found.setdefault(name, value)
        return found


class TwilioSignatureMiddleware:
    def __init__(self, app: ASGIApp, *, auth_token: str | None, public_url: str | None,
                 max_body_bytes: int = 16384) -> None:
        self.app = app
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.public_url = (public_url or "").rstrip("/")
        self.max_body_bytes = max_body_bytes
        if self.validator is None or not self.public_url:
            log.warning("hotline: INTAKE_TWILIO_AUTH_TOKEN or INTAKE_PUBLIC_URL unset; every webhook gets 403")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await PlainTextResponse("request body too large", status_code=413)(scope, receive, send)
            return
        body = await self._read_body(receive)
        if body is None:
            await PlainTextResponse("request body too large", status_code=413)(scope, receive, send)
            return
        params = self.check(scope, headers, body)
        if params is None:
            await PlainTextResponse("invalid or missing X-Twilio-Signature", status_code=403)(scope, receive, send)
            return
        scope.setdefault("state", {})[PARAMS_KEY] = params
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def url(self, scope: Scope) -> str:
        """The URL Twilio requested: our public base, the path, and the query exactly as sent."""
        query = scope.get("query_string", b"").decode("latin-1")
        return self.public_url + scope["path"] + (f"?{query}" if query else "")

    def check(self, scope: Scope, headers: Headers, body: bytes) -> dict[str, str] | None:
        """The request's parameters when its signature is right, else None."""
        signature = headers.get(SIGNATURE_HEADER)
        if self.validator is None or not self.public_url or not signature:
            return None
        url = self.url(scope)
        algorithm = get_signature_algorithm(headers.get(SIGNATURE_SETTINGS_HEADER))
        query = FormParams(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if scope["method"] == "GET" or not body:
            signed: FormParams | str = FormParams([])
            form = FormParams([])
        elif "bodySHA256" in query.first():  # a JSON body: the URL carries its hash
            signed, form = body.decode("utf-8", "replace"), FormParams([])
        else:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                return None
            form = FormParams(parse_qsl(text, keep_blank_values=True))
            signed = form
        if not self.validator.validate(url, signed, signature, algorithm=algorithm):
            log.warning("hotline: refused %s %s: signature does not match", scope["method"], url)
            return None
        # Twilio puts the parameters in the query for GET and in the body for POST; a step marker of
        # ours (?step=dialed) is in the query either way
        return {**query.first(), **form.first()}


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body we already read, then whatever the client sends next (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
