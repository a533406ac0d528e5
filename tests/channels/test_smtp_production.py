"""What an MTA in front of the receiver needs, over loopback with smtplib: STARTTLS with a test certificate,
AUTH, LMTP with one recipient per transaction, and per-client connection and rate limits."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pipeline.channels import smtp, smtp_security
from pipeline.errors import ConfigError
from pipeline.runtime import Runtime
from pipeline.store import models
from tests.conftest import SERVICE, make_settings, missing_server
from tests.mailmaker import make_mail
from tests.serving import free_port

SUPPORT = "support@support.example"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1, made by the openssl command at test time."""
    if not shutil.which("openssl"):
        missing_server("the openssl command is missing (Debian package openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "smtp-users"
    path.write_text("# MTAs allowed to deliver\npostfix:s3cret-relay\n", encoding="utf-8")
    return path


class Receiver:
    """smtp.start() on an event loop of its own thread, as `intake serve` runs it."""

    def __init__(self, tmp_path: Path, listen_host: str = "127.0.0.1", **smtp_options: Any) -> None:
        self.port = free_port()
        self.rt = Runtime.open(make_settings(tmp_path, smtp_listen=f"{listen_host}:{self.port}",
                                             service_addresses=[SERVICE, SUPPORT], smtp=smtp_options))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.stored: list[int] = []

    def __enter__(self) -> Receiver:
        self.thread.start()
        start = smtp.start(self.rt, self.stored.append)
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.rt.close()

    def envelopes(self) -> list[tuple[str | None, str | None]]:
        with self.rt.sessions() as session:
            rows = session.execute(select(models.RawInput.envelope_from, models.RawInput.envelope_to)
                                   .order_by(models.RawInput.id))
            return [(sender, recipients) for sender, recipients in rows]


def tls_client(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_starttls_then_auth_then_the_message_is_stored(tmp_path: Path, certificate: tuple[Path, Path],
                                                       users_file: Path) -> None:
    cert, key = certificate
    with Receiver(tmp_path, tls_cert=cert, tls_key=key, auth_users_file=users_file) as receiver, \
            smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")  # no password in clear
        assert client.mail("ann@mill.example.com")[0] == 530
        client.starttls(context=tls_client(cert))
        client.ehlo()
        assert client.has_extn("auth")
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("postfix", "wrong")
        assert refused.value.smtp_code == 535
        assert client.login("postfix", "s3cret-relay")[0] == 235
        assert client.sendmail("ann@mill.example.com", [SERVICE], make_mail("Over TLS")) == {}
        assert receiver.envelopes() == [("ann@mill.example.com", SERVICE)]


def test_require_starttls_refuses_mail_in_clear(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    with Receiver(tmp_path, tls_cert=cert, tls_key=key, require_starttls=True) as receiver, \
            smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        client.ehlo()
        code, reply = client.mail("ann@mill.example.com")
        assert code == 530 and b"STARTTLS" in reply
        client.starttls(context=tls_client(cert))
        assert client.sendmail("ann@mill.example.com", [SERVICE], make_mail("After STARTTLS")) == {}
        assert len(receiver.stored) == 1


def test_auth_on_loopback_may_go_without_tls(tmp_path: Path, users_file: Path) -> None:
    with Receiver(tmp_path, auth_users_file=users_file) as receiver, \
            smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        client.ehlo()
        assert client.mail("ann@mill.example.com")[0] == 530
        client.rset()
        client.login("postfix", "s3cret-relay")
        assert client.sendmail("ann@mill.example.com", [SERVICE], make_mail("Local relay")) == {}


@pytest.mark.parametrize("options, key", [
    ({}, "smtp.auth_users_file"),
    ({"auth_users_file": "USERS"}, "smtp.tls_cert"),
])
def test_beyond_loopback_auth_and_tls_are_required(tmp_path: Path, users_file: Path, options: dict[str, str],
                                                   key: str) -> None:
    options = {name: users_file if value == "USERS" else value for name, value in options.items()}
    settings = make_settings(tmp_path, smtp_listen="0.0.0.0:2525", smtp=options)
    with pytest.raises(ConfigError, match=key):
        smtp_security.server_options(settings)


def test_beyond_loopback_mail_needs_auth(tmp_path: Path, certificate: tuple[Path, Path], users_file: Path) -> None:
    cert, key = certificate
    with Receiver(tmp_path, "0.0.0.0", tls_cert=cert, tls_key=key, auth_users_file=users_file) as receiver, \
            smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        client.starttls(context=tls_client(cert))
        client.ehlo()
        assert client.mail("ann@mill.example.com")[0] == 530
        client.rset()
        client.login("postfix", "s3cret-relay")
        assert client.sendmail("ann@mill.example.com", [SERVICE], make_mail("Authenticated")) == {}


def test_lmtp_takes_one_recipient_per_transaction(tmp_path: Path) -> None:
    with Receiver(tmp_path, lmtp=True) as receiver:
        with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as smtp_client:
            assert smtp_client.ehlo()[0] == 500  # LMTP speaks LHLO
        with smtplib.LMTP("127.0.0.1", receiver.port, timeout=10) as client:
            assert client.sendmail("ann@mill.example.com", [SERVICE], make_mail("Via LMTP 1")) == {}
            client.mail("ann@mill.example.com")
            assert client.rcpt(SERVICE)[0] == 250
            code, reply = client.rcpt(SUPPORT)
            assert code == 452 and b"One recipient" in reply
            assert client.data(make_mail("Via LMTP 2"))[0] == 250
            assert client.sendmail("ann@mill.example.com", [SUPPORT], make_mail("Via LMTP 3")) == {}
        assert receiver.envelopes() == [("ann@mill.example.com", SERVICE)] * 2 + [("ann@mill.example.com", SUPPORT)]


def test_too_many_connections_from_one_client_get_421(tmp_path: Path) -> None:
    with Receiver(tmp_path, max_connections_per_client=2) as receiver:
        first = smtplib.SMTP("127.0.0.1", receiver.port, timeout=10)
        second = smtplib.SMTP("127.0.0.1", receiver.port, timeout=10)
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            smtplib.SMTP("127.0.0.1", receiver.port, timeout=10)
        assert refused.value.smtp_code == 421
        first.quit()
        with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as again:  # a freed slot is usable again
            assert again.noop()[0] == 250
        second.quit()


def test_too_many_messages_from_one_client_get_451(tmp_path: Path) -> None:
    with Receiver(tmp_path, max_messages_per_client_per_minute=2) as receiver, \
            smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        for n in range(2):
            assert client.sendmail("ann@mill.example.com", [SERVICE], make_mail(f"Rate {n}")) == {}
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("ann@mill.example.com", [SERVICE], make_mail("Rate 2"))
        assert refused.value.smtp_code == 451
        assert len(receiver.stored) == 2


def test_an_authenticated_mta_is_not_rate_limited(tmp_path: Path, users_file: Path) -> None:
    with Receiver(tmp_path, auth_users_file=users_file, max_messages_per_client_per_minute=1) as receiver, \
            smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        client.login("postfix", "s3cret-relay")
        for n in range(3):
            assert client.sendmail("ann@mill.example.com", [SERVICE], make_mail(f"Queue flush {n}")) == {}
        assert len(receiver.stored) == 3
