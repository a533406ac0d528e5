"""Twilio's two sides on loopback: a REST API that records what the real `twilio` client sends, and a
webhook client that signs requests exactly as Twilio does (RequestValidator.compute_signature).

The REST side answers Messages.json and Calls.json like Twilio (201 and the resource's JSON), serves
recordings registered with `add_recording`, and can be told to fail the next requests with a status.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from twilio.request_validator import RequestValidator

from tests.conftest import CORPUS, FIXTURES

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token-12345"
OUR_NUMBER = "+864001234567"
PUBLIC_URL = "https://intake.example.cn"


@dataclass
class ApiRequest:
    method: str
    path: str
    form: dict[str, str]
    auth: str | None


@dataclass
class FakeTwilioApi:
    """A ThreadingHTTPServer speaking enough of api.twilio.com for SMS, calls and recordings."""

    requests: list[ApiRequest] = field(default_factory=list)
    recordings: dict[str, bytes] = field(default_factory=dict)
    failures: list[tuple[int, int]] = field(default_factory=list)  # (HTTP status, Twilio error code)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_recording(self, recording_sid: str, wav: bytes) -> str:
        """Serve a recording; returns its RecordingUrl as Twilio sends it (api.twilio.com, no suffix)."""
        self.recordings[recording_sid] = wav
        return f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}"

    def sent(self, resource: str) -> list[ApiRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(f"/{resource}.json")]

    def start(self) -> FakeTwilioApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                api.requests.append(ApiRequest("GET", self.path, {}, self.headers.get("Authorization")))
                found = re.search(r"/Recordings/([A-Za-z0-9]+)\.wav$", self.path)
                if found and found.group(1) in api.recordings:
                    self._answer(200, api.recordings[found.group(1)], "audio/x-wav")
                else:
                    self._answer(404, b'{"code": 20404, "message": "not found", "status": 404}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
                api.requests.append(ApiRequest("POST", self.path, form, self.headers.get("Authorization")))
                if api.failures:
                    status, code = api.failures.pop(0)
                    body = {"code": code, "message": f"failure {code}", "more_info": "", "status": status}
                    self._answer(status, json.dumps(body).encode())
                    return
                number = len(api.requests)
                if self.path.endswith("/Messages.json"):
                    sid, extra = f"SM{number:032x}", {"body": form.get("Body"), "num_segments": "1"}
                elif self.path.endswith("/Calls.json"):
                    sid, extra = f"CA{number:032x}", {"direction": "outbound-api"}
                else:
                    self._answer(404, b'{"code": 20404, "message": "not found", "status": 404}')
                    return
                resource = {"sid": sid, "account_sid": ACCOUNT_SID, "to": form.get("To"), "from": form.get("From"),
                            "status": "queued", "api_version": "2010-04-01", **extra}
                self._answer(201, json.dumps(resource).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def basic_auth(header: str | None) -> tuple[str, str]:
    user, _, password = base64.b64decode((header or "").removeprefix("Basic ")).decode().partition(":")
    return user, password


def fake_api() -> Iterator[FakeTwilioApi]:
    api = FakeTwilioApi().start()
    try:
        yield api
    finally:
        api.stop()


# -- the webhook side --------------------------------------------------------------------------------

def sign(url: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, dict(params))


class Twilio:
    """Posts webhook requests to a running intake as Twilio would: form-encoded, signed for the public URL."""

    def __init__(self, http_base: str, public_url: str = PUBLIC_URL, token: str = AUTH_TOKEN) -> None:
        self.http = httpx.Client(base_url=http_base, timeout=10)
        self.public_url, self.token = public_url, token

    def post(self, path: str, params: Mapping[str, str], *, signed_for: str | None = None,
             signature: str | None = None) -> httpx.Response:
        """`signed_for`: sign another URL than the one requested (a forged or misrouted request)."""
        url = signed_for or self.public_url + path
        header = sign(url, params, self.token) if signature is None else signature
        headers = {"X-Twilio-Signature": header} if header else {}
        return self.http.post(path, data=dict(params), headers=headers)

    def close(self) -> None:
        self.http.close()


def sample(name: str) -> dict[str, str]:
    """A payload's parameters: ours from fixtures/twilio/, else the shared corpus's."""
    for folder in (FIXTURES / "twilio", CORPUS / "twilio"):
        path = Path(folder) / f"{name}.json"
        if path.is_file():
            return dict(json.loads(path.read_text(encoding="utf-8"))["params"])
    raise FileNotFoundError(name)


def corpus_sample(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / "twilio" / f"{name}.json").read_text(encoding="utf-8"))


class AppServer:
    """intake's HTTP app (health + hotline) for one Runtime, served by uvicorn in a thread on loopback."""

    def __init__(self, rt: Any) -> None:
        import uvicorn

        from pipeline.channels import hotline
        from pipeline.web import app as web
        from tests.serving import free_port

        self.port = free_port()
        config = uvicorn.Config(web.build_app(rt, hotline.routes(rt)), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AppServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
