"""TwilioSignatureMiddleware on the published test vectors, forged requests and oversized bodies.

The middleware is driven as an ASGI app through httpx; tests/channels/test_hotline.py sends the same
kinds of requests to a running `intake serve`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.types import Receive, Scope, Send
from twilio.request_validator import RequestValidator

from pipeline.web.twilio_signature import PARAMS_KEY, FormParams, TwilioSignatureMiddleware
from tests.twilio_fake import corpus_sample, sign

VECTORS = ["docs-signature-example", "twilio-python-request-validator"]


class Inner:
    """The app behind the middleware: answers 200 and remembers what it was given."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "http.request"  # the body is replayed to the app
        self.seen.append(scope["state"][PARAMS_KEY])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def request(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.5:8080") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def guarded(public_url: str, token: str | None, limit: int = 16384) -> tuple[TwilioSignatureMiddleware, Inner]:
    inner = Inner()
    return TwilioSignatureMiddleware(inner, auth_token=token, public_url=public_url, max_body_bytes=limit), inner


@pytest.mark.parametrize("name", VECTORS)
def test_published_vectors_pass_through_the_public_url(name: str) -> None:
    vector = corpus_sample(name)
    url = urlsplit(vector["url"])
    app, inner = guarded(f"{url.scheme}://{url.netloc}", vector["auth_token"])
    answer = request(app, "POST", f"{url.path}?{url.query}", data=vector["params"],
                     headers={"X-Twilio-Signature": vector["signature"]})
    assert answer.status_code == 200
    assert inner.seen == [{"foo": "1", "bar": "2", **vector["params"]}]


@pytest.mark.parametrize("name", VECTORS)
@pytest.mark.parametrize("change", ["param", "query", "scheme", "host", "no-signature", "no-token"])
def test_anything_else_is_403_and_never_reaches_the_app(name: str, change: str) -> None:
    vector = corpus_sample(name)
    url = urlsplit(vector["url"])
    public, token, path = f"{url.scheme}://{url.netloc}", vector["auth_token"], f"{url.path}?{url.query}"
    params, headers = dict(vector["params"]), {"X-Twilio-Signature": vector["signature"]}
    if change == "param":
        params["Digits"] = "9"
    elif change == "query":
        path = url.path
    elif change == "scheme":
        public = public.replace("https://", "http://")  # behind a TLS proxy, the local scheme is wrong
    elif change == "host":
        public = "https://other.example.com"
    elif change == "no-signature":
        headers = {}
    else:
        token = None
    app, inner = guarded(public, token)
    assert request(app, "POST", path, data=params, headers=headers).status_code == 403
    assert inner.seen == []


def test_get_requests_are_signed_over_the_query() -> None:
    app, inner = guarded("https://intake.example.cn", "secret")
    query = "CallSid=CA1&From=%2B8613800138000"
    signature = sign(f"https://intake.example.cn/hotline/voice?{query}", {}, "secret")
    answer = request(app, "GET", f"/hotline/voice?{query}", headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200 and inner.seen == [{"CallSid": "CA1", "From": "+8613800138000"}]


def test_multi_valued_parameters_are_signed_value_by_value() -> None:
    app, inner = guarded("https://intake.example.cn", "secret")
    pairs = FormParams([("CallSid", "CA1"), ("Tag", "b"), ("Tag", "a")])
    signature = RequestValidator("secret").compute_signature("https://intake.example.cn/hotline/status", pairs)
    answer = request(app, "POST", "/hotline/status", data={"CallSid": "CA1", "Tag": ["b", "a"]},
                     headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200 and inner.seen[0]["Tag"] == "b"


def test_bodies_over_the_limit_get_413_before_any_check() -> None:
    app, inner = guarded("https://intake.example.cn", "secret", limit=1024)
    params = {"CallSid": "CA1", "TranscriptionText": "x" * 2000}
    signature = sign("https://intake.example.cn/hotline/transcription", params, "secret")
    answer = request(app, "POST", "/hotline/transcription", data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(20):
            yield b"x" * 100

    answer = request(app, "POST", "/hotline/transcription", content=chunks(),
                     headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413 and inner.seen == []
