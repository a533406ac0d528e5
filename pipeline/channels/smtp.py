"""The SMTP receiver (aiosmtpd): policy at RCPT, the raw bytes committed before 250 at DATA.

Replies: 550 for recipients that are not our service addresses (we are not a relay), 552 over the size
limit (aiosmtpd enforces data_size_limit), 451 when the store fails so the sending MTA retries. No
exception may become aiosmtpd's default permanent 500: handle_exception answers 451.

In front of it sits a real MTA (README "Postfix in front of intake"): STARTTLS and AUTH come from
smtp_security.py, per-client connection and rate limits from smtp_limits.py. In LMTP mode (`smtp.lmtp`)
the greeting is LHLO and a transaction takes one recipient: aiosmtpd sends one reply after DATA, while
RFC 2033 wants one per recipient, so a second RCPT gets 452 and the client delivers it separately.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from pipeline.channels import smtp_limits, smtp_security
from pipeline.errors import StoreUnavailable
from pipeline.records import RawInput
from pipeline.runtime import Runtime
from pipeline.tickets import ingest

log = logging.getLogger(__name__)

RELAY_DENIED = "550 5.7.1 Relaying denied: we accept mail only for our service addresses"
NO_SUCH_USER = "550 5.1.1 No such mailbox here"
TRY_LATER = "451 4.3.0 Temporary failure storing the message, please retry"
ONE_RECIPIENT = "452 4.5.3 One recipient per transaction in LMTP mode; send the others separately"


class IntakeHandler:
    """aiosmtpd handler hooks. `on_stored(raw_id)` hands a committed message to the processor."""

    def __init__(self, rt: Runtime, on_stored: Callable[[int], None]) -> None:
        self.rt = rt
        self.on_stored = on_stored
        self.addresses = frozenset(rt.settings.service_addresses)
        self.domains = rt.settings.service_domains
        self.lmtp = rt.settings.smtp.lmtp
        self.limits = smtp_limits.ClientLimits(rt.settings.smtp.max_connections_per_client,
                                               rt.settings.smtp.max_messages_per_client_per_minute)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        # an MTA that authenticated is ours: its bursts (a queue flushed after a restart) are not abuse
        if not session.authenticated and not self.limits.allow_message(smtp_limits.client_address(session.peer)):
            log.warning("SMTP client %s over its rate limit, answered 451", session.peer)
            return smtp_limits.TOO_MANY_MESSAGES
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        recipient = address.lower()
        if self.lmtp and envelope.rcpt_tos:
            return ONE_RECIPIENT
        if recipient not in self.addresses:
            return NO_SUCH_USER if recipient.rpartition("@")[2] in self.domains else RELAY_DENIED
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # only with decode_data=True, which we never set
            raw = raw.encode("utf-8", "surrogateescape")
        if len(raw) > self.rt.settings.max_message_bytes:
            return "552 5.3.4 Message too big"
        item = RawInput(
            raw=raw,
            source="smtp",
            received_at=datetime.now(UTC),
            envelope_from=envelope.mail_from or "",
            envelope_to=tuple(envelope.rcpt_tos),
        )
        loop = asyncio.get_running_loop()
        try:
            stored = (await loop.run_in_executor(None, ingest.store, self.rt, [item]))[0]
        except StoreUnavailable as exc:
            log.warning("SMTP message not stored, answered 451: %s", exc)
            return TRY_LATER
        except Exception:
            log.exception("SMTP message not stored, answered 451")
            return TRY_LATER
        if stored.fresh or stored.status == "received":
            self.on_stored(stored.raw_id)
        return f"250 2.0.0 OK: stored as {stored.raw_id}"

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error: %r", error)
        return TRY_LATER


def smtp_factory(rt: Runtime, handler: IntakeHandler, **options: Any) -> Callable[[], SMTP]:
    hostname = rt.settings.smtp.hostname or (rt.settings.service_domains and sorted(rt.settings.service_domains)[0])
    protocol = smtp_limits.GuardedLMTP if handler.lmtp else smtp_limits.GuardedSMTP

    def make() -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS is allowed on loopback only (smtp_security.server_options checks that)
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            return protocol(
                handler,
                limits=handler.limits,
                data_size_limit=rt.settings.max_message_bytes,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname=hostname or None,
                ident="intake LMTP" if handler.lmtp else "intake ESMTP",
                **options,
            )

    return make


async def start(rt: Runtime, on_stored: Callable[[int], None],
                sock: socket.socket | None = None) -> asyncio.AbstractServer:
    """Serve on `sock`, a socket already bound to INTAKE_SMTP_LISTEN (`intake serve` binds it first, so a
    taken port stops start-up before anything runs), else bind that address here. ConfigError (before
    serving) when the TLS/AUTH settings are unsafe."""
    options = smtp_security.server_options(rt.settings)
    handler = IntakeHandler(rt, on_stored)
    loop = asyncio.get_running_loop()
    if sock is not None:
        return await loop.create_server(smtp_factory(rt, handler, **options), sock=sock)
    host, port = rt.settings.smtp_bind
    return await loop.create_server(smtp_factory(rt, handler, **options), host=host, port=port)
