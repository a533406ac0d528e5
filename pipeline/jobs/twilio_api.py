"""The real `twilio` REST client, aimed at INTAKE_TWILIO_API_BASE when it is set.

The library builds https://api.twilio.com/... (and other *.twilio.com hosts) itself; `RebasedHttpClient`
moves each such URL onto the configured base, so a test points the unchanged client at a loopback server
and a deployment can go through an egress proxy. Recording downloads use the same session and base,
with the account's credentials (recordings are private by default).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from pipeline.jobs.mailer import PermanentFailure, TransientFailure
from pipeline.settings import Settings

TIMEOUT_S = 15.0


def rebase(url: str, base: str | None) -> str:
    """`url` on `base` when it points at Twilio; anything else unchanged."""
    if not base:
        return url
    parts = urlsplit(url)
    if not (parts.hostname or "").endswith("twilio.com"):
        return url
    target = urlsplit(base)
    path = target.path.rstrip("/") + parts.path
    return urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))


class RebasedHttpClient(TwilioHttpClient):
    def __init__(self, base: str | None, timeout: float = TIMEOUT_S) -> None:
        super().__init__(timeout=timeout)
        self.base = base

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        return super().request(method, rebase(url, self.base), params=params, data=data, headers=headers,
                               auth=auth, timeout=timeout, allow_redirects=allow_redirects)

    def download(self, url: str, auth: tuple[str, str]) -> bytes:
        """The raw bytes at `url` (the library's Response keeps only text)."""
        session = self.session or requests.Session()
        answer = session.get(rebase(url, self.base), auth=auth, timeout=self.timeout, allow_redirects=True)
        if answer.status_code == 404:  # Twilio has not finished the file yet
            raise TransientFailure(f"recording not available yet: GET {url} -> 404")
        if answer.status_code >= 400:
            failure = TransientFailure if answer.status_code >= 500 or answer.status_code == 429 else PermanentFailure
            raise failure(f"GET {url} -> {answer.status_code}")
        return answer.content


def _credentials(settings: Settings) -> tuple[str, str]:
    if not settings.twilio_account_sid or not settings.twilio_auth_token:
        raise PermanentFailure("INTAKE_TWILIO_ACCOUNT_SID and INTAKE_TWILIO_AUTH_TOKEN must be set to use Twilio")
    return settings.twilio_account_sid, settings.twilio_auth_token


@lru_cache(maxsize=8)
def _client(account_sid: str, auth_token: str, base: str | None) -> Client:
    return Client(account_sid, auth_token, http_client=RebasedHttpClient(base))


def client(settings: Settings) -> Client:
    """One client (and connection pool) per account and base, for the life of the process."""
    account_sid, auth_token = _credentials(settings)
    return _client(account_sid, auth_token, settings.twilio_api_base)


def download(settings: Settings, url: str) -> bytes:
    account_sid, auth_token = _credentials(settings)
    http = client(settings).http_client
    assert isinstance(http, RebasedHttpClient)
    try:
        return http.download(url, (account_sid, auth_token))
    except requests.RequestException as exc:
        raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc


def call_api(action: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one REST call; Twilio's and the network's errors become our retry-or-not failures."""
    try:
        return action(*args, **kwargs)
    except TwilioRestException as exc:
        transient = exc.status >= 500 or exc.status == 429
        raise (TransientFailure if transient else PermanentFailure)(
            f"Twilio {exc.status} (code {exc.code}): {exc.msg}") from exc
    except requests.RequestException as exc:
        raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc
    except TwilioException as exc:
        raise PermanentFailure(str(exc)) from exc
