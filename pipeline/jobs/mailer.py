"""Outgoing mail: a job becomes a MIME message, sent through INTAKE_RELAY_URL or written as an .eml file.

Every message we send says it is automatic (RFC 3834 Auto-Submitted, Microsoft's suppression header, our
own loop header) so well-behaved responders do not answer it, and pipeline.triage never answers theirs.
"""

from __future__ import annotations

import contextlib
import contextvars
import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pipeline import durable
from pipeline.render import one_line
from pipeline.store.models import Job

LOOP_HEADER = "X-Intake-Loop"


class PermanentFailure(Exception):
    """The relay refused the message for good (5xx): retrying cannot help."""


class TransientFailure(Exception):
    """The relay could not take the message now (4xx, connection trouble): retry later."""


def build_message(job: Job, from_address: str, display_name: str = "") -> EmailMessage:
    message = EmailMessage()
    local, _, domain = from_address.partition("@")
    message["From"] = Address(display_name=one_line(display_name), username=local, domain=domain)
    message["To"] = one_line(job.recipient or "")
    message["Subject"] = one_line(job.subject or "", 900)
    message["Date"] = format_datetime(job.created_at)
    message["Message-ID"] = f"<{job.message_id}>" if job.message_id else make_msgid(domain=domain)
    payload = job.payload or {}
    if payload.get("in_reply_to"):
        message["In-Reply-To"] = f"<{one_line(payload['in_reply_to'])}>"
    if payload.get("references"):
        message["References"] = " ".join(f"<{one_line(ref)}>" for ref in payload["references"])
    message["Auto-Submitted"] = "auto-replied" if job.kind == "ack" else "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message[LOOP_HEADER] = from_address
    if job.language:
        message["Content-Language"] = "zh-CN" if job.language == "zh-Hans" else (
            "zh-TW" if job.language == "zh-Hant" else job.language)
    # base64 keeps UTF-8 bodies intact through relays without 8BITMIME
    message.set_content(job.body_text or "", charset="utf-8", cte="base64")
    if job.body_html:
        message.add_alternative(job.body_html, subtype="html", charset="utf-8", cte="base64")
    if payload.get("ics"):  # a visit invitation (pipeline/jobs/ics.py): text/calendar; method=REQUEST
        message.add_attachment(payload["ics"]["content"].encode("utf-8"), maintype="text", subtype="calendar",
                               filename=payload["ics"]["filename"], params={"method": "REQUEST", "charset": "utf-8"})
    return message


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    implicit_tls: bool
    user: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> Relay:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def connect(self, timeout_s: float = 30) -> smtplib.SMTP:
        """An SMTP session, greeted, secured and logged in."""
        try:  # a TLS context costs ~80 ms to build (it loads the CA store): only when TLS is used
            if self.implicit_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout_s,
                                                      context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=timeout_s)
            try:
                client.ehlo()
                if not self.implicit_tls and client.has_extn("starttls"):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if self.user:
                    client.login(self.user, self.password or "")
            except BaseException:
                client.close()
                raise
            return client
        except (OSError, smtplib.SMTPException) as exc:
            raise _failure(exc) from exc

    def send(self, message: EmailMessage, envelope_from: str, recipients: list[str]) -> None:
        """Send on the session this pass keeps open to the relay (see `sessions`), or on a new one."""
        kept = _kept_sessions.get()
        if kept is None:
            client = self.connect()
            try:
                _send(client, message, envelope_from, recipients)
            finally:
                _quit(client)
            return
        client = kept.get(self)
        if client is not None and not _alive(client):  # the relay closed an idle session
            _quit(kept.pop(self))
            client = None
        if client is None:
            kept[self] = client = self.connect()
        try:
            _send(client, message, envelope_from, recipients)
        except BaseException:  # the session's state is unknown now: the next message gets a new one
            _quit(kept.pop(self))
            raise


# Relay sessions kept open for the jobs of one worker pass: the connection, greeting, TLS handshake and
# login cost more than sending a message, and a pass sends many.
_kept_sessions: contextvars.ContextVar[dict[Relay, smtplib.SMTP] | None] = contextvars.ContextVar(
    "relay_sessions", default=None)


@contextlib.contextmanager
def sessions() -> Iterator[None]:
    """Within this block, messages to one relay share an SMTP session; all are closed at the end."""
    kept: dict[Relay, smtplib.SMTP] = {}
    token = _kept_sessions.set(kept)
    try:
        yield
    finally:
        _kept_sessions.reset(token)
        for client in kept.values():
            _quit(client)


def _send(client: smtplib.SMTP, message: EmailMessage, envelope_from: str, recipients: list[str]) -> None:
    """One message on an open session; a failure is PermanentFailure (5xx) or TransientFailure."""
    try:
        refused = client.send_message(message, from_addr=envelope_from, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        raise _failure(exc) from exc
    if refused:
        raise PermanentFailure(f"recipients refused: {refused}")


def _failure(exc: BaseException) -> PermanentFailure | TransientFailure:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {exc.smtp_error!r}"
        return (PermanentFailure if exc.smtp_code >= 500 else TransientFailure)(text)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        kind = PermanentFailure if all(code >= 500 for code in codes) else TransientFailure
        return kind(f"recipients refused: {exc.recipients}")
    return TransientFailure(f"{type(exc).__name__}: {exc}")


def _alive(client: smtplib.SMTP) -> bool:
    """RSET answers 250 on a live session (and clears what a previous message left)."""
    try:
        return client.rset()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def _quit(client: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError, smtplib.SMTPException):
        client.quit()
    client.close()


def write_eml(folder: Path, name: str, message: EmailMessage) -> Path:
    """Write atomically so a reader never sees half a message."""
    return durable.write_atomically(folder / f"{name}.eml", message.as_bytes())
