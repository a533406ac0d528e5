"""The IMAP poller as production servers want it, against a real Dovecot that requires TLS: implicit TLS and
STARTTLS verified against a throw-away CA (`ca_file`), a certificate from another CA refused, and XOAUTH2
with bearer tokens that Dovecot checks at a loopback introspection endpoint (`passdb oauth2`).

Dovecot counts loopback connections as secure even in plaintext, so each test that logs in reads the
server's own log line for the login, which says `TLS` only for an encrypted session.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline.channels import imap
from pipeline.cli import main as cli
from pipeline.settings import ImapMailbox
from tests.channels import dovecot as dovecot_module
from tests.channels.dovecot import Dovecot, Tls
from tests.channels.polling import poller_running, raw_count, runtime_for, status, subjects, watching
from tests.mailmaker import make_mail
from tests.serving import wait_for

pytestmark = pytest.mark.dovecot


class Introspection:
    """An OAuth2 token introspection endpoint (RFC 7662) on loopback: Dovecot POSTs `token=...` and is told
    whether the token is active and whose it is."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}  # active token -> user
        self.asked: list[str] = []  # every token Dovecot asked about, in order
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}/introspect"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                token = form.get("token", [""])[0]
                endpoint.asked.append(token)
                user = endpoint.tokens.get(token)
                body = json.dumps({"active": True, "username": user} if user else {"active": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest would show each request
                pass

        return Handler

    def grant(self, user: str, token: str) -> str:
        self.tokens[token] = user
        return token

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    def __enter__(self) -> Introspection:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return dovecot_module.make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that signed nothing the server shows."""
    return dovecot_module.make_tls(tmp_path_factory.mktemp("other-tls"), name="some other CA").ca_file


@pytest.fixture(scope="module")
def introspection() -> Iterator[Introspection]:
    with Introspection() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def dovecot(tls: Tls, introspection: Introspection) -> Iterator[Dovecot]:
    """`ssl = required`, IMAPS and STARTTLS, passwords and bearer tokens; each test takes a user of its own."""
    with dovecot_module.running(tls=tls, oauth2_url=introspection.url) as server:
        yield server


@pytest.fixture
def user(dovecot: Dovecot) -> str:
    return dovecot.add_user()




def log_mark(server: Dovecot) -> int:
    """Where Dovecot's log ends now: the fixture's own logins (APPEND) come before it."""
    return len(server.log())


def logins(server: Dovecot, user: str, since: int, method: str = "") -> list[str]:
    """Dovecot's log lines of the user's successful logins: `..., method=PLAIN, ..., TLS, session=<...>`.
    Dovecot writes them through its log process, a moment after the login: wait_for them."""
    return [line for line in server.log()[since:].splitlines()
            if f"Login: user=<{user}>," in line and f"method={method}" in line]


def refused(server: Dovecot, user: str) -> list[str]:
    """Dovecot's log lines of the user's refused logins: `... (auth failed, 1 attempts in 2 secs): user=<...>`."""
    return [line for line in server.log().splitlines() if "auth failed" in line and f"user=<{user}>" in line]


def mail(subject: str, n: int = 0) -> bytes:
    return make_mail(subject, f"Our RTU #{n} lost its uplink, please help.", f"ops{n}@substation{n}.example")


def status_json(box: ImapMailbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`intake imap status --json` for the one mailbox, as an operator sees it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INTAKE_DATABASE_URL", f"sqlite:///{tmp_path}/intake.db")
    monkeypatch.setenv("INTAKE_IMAP", json.dumps([box.model_dump(mode="json")]))
    assert cli.main(["imap", "status", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    return row


# --- TLS ---------------------------------------------------------------------------------------------


def test_implicit_tls_mail_becomes_a_ticket(dovecot: Dovecot, user: str, tls: Tls, tmp_path: Path) -> None:
    dovecot.append(user, mail("RTU uplink lost over IMAPS", 1))
    box = dovecot.mailbox(user)
    assert (box.tls, box.port, box.ca_file) == ("ssl", dovecot.tls_port, tls.ca_file)
    mark = log_mark(dovecot)
    with runtime_for(tmp_path, box) as rt:
        (row,) = imap.poll_once(rt)
        assert (row["fetched"], row["error"], row["last_uid"]) == (1, None, 1)
        assert subjects(rt) == ["RTU uplink lost over IMAPS"]
    (login,) = wait_for(lambda: logins(dovecot, user, mark))
    assert "method=PLAIN" in login and ", TLS," in login


def test_starttls_with_idle_by_host_name(dovecot: Dovecot, user: str, tmp_path: Path) -> None:
    # "localhost": the certificate's DNS name is checked too, not only its 127.0.0.1 address
    box = dovecot.mailbox(user, host="localhost", port=dovecot.port, tls="starttls", poll_interval_s=300)
    mark = log_mark(dovecot)
    with runtime_for(tmp_path, box) as rt, watching(rt, box):
        wait_for(lambda: status(rt, user)["idle"])
        (login,) = wait_for(lambda: logins(dovecot, user, mark))
        assert ", TLS," in login
        time.sleep(0.3)  # let the first sync end and IDLE begin
        dovecot.append(user, mail("RTU uplink lost over STARTTLS", 2))
        wait_for(lambda: subjects(rt) == ["RTU uplink lost over STARTTLS"], timeout_s=10)
        assert status(rt, user)["last_error"] is None


@pytest.mark.parametrize("tls_mode, trusted", [("ssl", "other CA"), ("starttls", "other CA"), ("ssl", "system CAs")])
def test_certificate_from_another_ca_is_refused(dovecot: Dovecot, user: str, other_ca: Path, tls_mode: str,
                                               trusted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    dovecot.append(user, mail("Must not be taken from an unverified server", 3))
    port = dovecot.tls_port if tls_mode == "ssl" else dovecot.port
    box = dovecot.mailbox(user, tls=tls_mode, port=port, ca_file=other_ca if trusted == "other CA" else None)
    mark = log_mark(dovecot)
    with runtime_for(tmp_path, box) as rt:
        (row,) = imap.poll_once(rt)
        assert (row["fetched"], row["connected"], row["uidvalidity"]) == (0, False, None)
        assert "CERTIFICATE_VERIFY_FAILED" in row["error"] and row["last_error"] == row["error"]
        assert "SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed" in row["error"]

        with watching(rt, box):  # `intake serve`: backs off and retries, never dies
            wait_for(lambda: "retrying in" in (status(rt, user)["last_error"] or ""))
            assert poller_running(box)
        assert raw_count(rt) == 0 and subjects(rt) == []
    row = status_json(box, tmp_path, monkeypatch, capsys)
    assert row["connected"] is False
    assert "certificate verify failed" in row["last_error"] and "retrying in" in row["last_error"]
    assert logins(dovecot, user, mark) == []


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_unusable_ca_file_is_reported(dovecot: Dovecot, user: str, content: str | None, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    if content is not None:
        ca_file.write_text(content, encoding="utf-8")
    with runtime_for(tmp_path, dovecot.mailbox(user, ca_file=ca_file)) as rt:
        (row,) = imap.poll_once(rt)
    assert row["fetched"] == 0 and f"ca_file {ca_file}: " in row["error"]


# --- XOAUTH2 -----------------------------------------------------------------------------------------


def token_box(server: Dovecot, user: str, token_file: Path) -> ImapMailbox:
    """The mailbox with no password: an access token printed by `oauth2_token_command` at each connect."""
    return server.mailbox(user, password=None, oauth2_token_command=shlex.join(["cat", str(token_file)]))


def test_xoauth2_logs_in_with_the_token_and_fetches(dovecot: Dovecot, user: str, introspection: Introspection,
                                                   tmp_path: Path) -> None:
    first, second = f"ya29.first-{user}", f"ya29.second-{user}"
    token_file = tmp_path / "token"
    token_file.write_text(introspection.grant(user, first) + "\n", encoding="utf-8")
    dovecot.append(user, mail("Token login", 4))
    box = token_box(dovecot, user, token_file)
    mark = log_mark(dovecot)
    with runtime_for(tmp_path, box) as rt:
        (row,) = imap.poll_once(rt)
        assert (row["fetched"], row["error"]) == (1, None)

        # the token expires and the command prints a new one: read anew at the next connect
        introspection.revoke(first)
        token_file.write_text(introspection.grant(user, second), encoding="utf-8")
        dovecot.append(user, mail("Token login again", 5))
        (row,) = imap.poll_once(rt)
        assert (row["fetched"], row["error"], row["last_uid"]) == (1, None, 2)
        assert subjects(rt) == ["Token login", "Token login again"]
    assert [token for token in introspection.asked if token in (first, second)] == [first, second]
    wait_for(lambda: len(logins(dovecot, user, mark, method="XOAUTH2")) == 2)  # the APPENDs' logins are PLAIN
    assert all(", TLS," in line for line in logins(dovecot, user, mark, method="XOAUTH2"))


def test_wrong_token_is_reported_like_a_wrong_password(tls: Tls, introspection: Introspection, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # a server of its own: Dovecot slows every login from an address that just failed one
    with dovecot_module.running(tls=tls, oauth2_url=introspection.url) as server:
        user = server.add_user()
        introspection.grant(user, f"good-{user}")
        token_file = tmp_path / "token"
        token_file.write_text(f"expired-{user}", encoding="utf-8")
        server.append(user, mail("Must wait for a valid token", 6))
        box = token_box(server, user, token_file)
        mark = log_mark(server)
        with runtime_for(tmp_path, box) as rt:
            (row,) = imap.poll_once(rt)
            assert row["fetched"] == 0 and "login refused" in row["error"] and "AUTHENTICATIONFAILED" in row["error"]
            with watching(rt, box):  # Dovecot answers a failed login late, and the next from 127.0.0.1 later
                wait_for(lambda: "retrying in" in (status(rt, user)["last_error"] or ""), timeout_s=30)
            assert raw_count(rt) == 0
        assert logins(server, user, mark) == []
        # one refusal per attempt (poll-once, then the watcher's first); Dovecot logs it at the disconnect
        wait_for(lambda: len(refused(server, user)) == 2)
        assert all("method=XOAUTH2" in line for line in refused(server, user))
    assert introspection.asked.count(f"expired-{user}") == 2

    row = status_json(box, tmp_path, monkeypatch, capsys)
    assert row["connected"] is False and "AUTHENTICATIONFAILED" in row["last_error"]
    # a refused login backs off long (30 s doubling, half of it random), a broken connection from 1 s
    delay = re.search(r"retrying in (\d+) s", row["last_error"])
    assert delay is not None and int(delay.group(1)) >= 15
