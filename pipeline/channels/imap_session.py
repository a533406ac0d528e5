"""One IMAP conversation with one mailbox (imapclient, blocking): log in, select, list new UIDs, fetch with
BODY.PEEK[] so nothing is marked \\Seen before we stored it, mark what was stored, and IDLE.

Library errors are wrapped where they enter: a refused login becomes MailboxLoginFailed (the poller backs
off long, since retrying the same password soon cannot help), everything else MailboxUnavailable.
"""

from __future__ import annotations

import contextlib
import imaplib
import shlex
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import LoginError

from pipeline.errors import IntakeError
from pipeline.settings import ImapMailbox

SEEN = b"\\Seen"
# imaplib.IMAP4.error covers imapclient's IMAPClientError and its subclasses; abort is a dropped connection
CONNECTION_ERRORS = (imaplib.IMAP4.error, imaplib.IMAP4.abort, OSError, ssl.SSLError, EOFError)


class MailboxUnavailable(IntakeError):
    """The IMAP server could not be reached or dropped the connection; the poller reconnects with backoff."""


class MailboxLoginFailed(MailboxUnavailable):
    """The IMAP server refused the login: check user, password (file) or token command of the [[imap]] table."""


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    internal_at: datetime  # aware UTC: when the server received the message


@contextlib.contextmanager
def wrapped(what: str) -> Iterator[None]:
    try:
        yield
    except LoginError as exc:
        raise MailboxLoginFailed(f"login refused: {_text(exc)}") from exc
    except CONNECTION_ERRORS as exc:
        raise MailboxUnavailable(f"{what}: {type(exc).__name__}: {_text(exc)}") from exc


def _text(exc: BaseException) -> str:
    """An exception's message for `intake imap status`, without its type name.

    An OSError's args start with its errno ("1 [SSL: CERTIFICATE_VERIFY_FAILED] ...", "111 Connection
    refused"), which says nothing to a reader: its strerror is the message. Other errors may carry the
    server's reply as bytes, decoded here.
    """
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror)
    return " ".join(str(arg.decode(errors="replace") if isinstance(arg, bytes) else arg) for arg in exc.args) \
        or type(exc).__name__


def secret(mailbox: ImapMailbox) -> tuple[str, str]:
    """('password' | 'oauth2', value), read anew at each connect (tokens expire after about an hour)."""
    if mailbox.oauth2_token_command:
        try:
            done = subprocess.run(shlex.split(mailbox.oauth2_token_command), capture_output=True, text=True,
                                  timeout=60, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            raise MailboxLoginFailed(f"oauth2_token_command failed: {exc}") from exc
        return "oauth2", done.stdout.strip()
    if mailbox.password_file:
        try:
            return "password", mailbox.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise MailboxLoginFailed(f"password_file {mailbox.password_file}: {exc.strerror}") from exc
    if mailbox.password is not None:
        return "password", mailbox.password
    raise MailboxLoginFailed("no password, password_file or oauth2_token_command in the [[imap]] table")


def tls_context(mailbox: ImapMailbox) -> ssl.SSLContext:
    """Verifies the server's certificate and host name: against ca_file alone when it is set (a private CA),
    else against the system's CAs."""
    try:
        return ssl.create_default_context(cafile=str(mailbox.ca_file) if mailbox.ca_file else None)
    except OSError as exc:  # missing, unreadable, or no PEM certificate in it (ssl.SSLError)
        raise MailboxUnavailable(f"ca_file {mailbox.ca_file}: {exc.strerror or _text(exc)}") from exc


def internal_time(value: Any) -> datetime:
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class MailboxSession:
    """A logged-in connection with the watched folder selected."""

    def __init__(self, mailbox: ImapMailbox) -> None:
        self.mailbox = mailbox
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self.can_idle = False
        self.can_keyword = False
        self.idling = False

    def open(self) -> None:
        box = self.mailbox
        kind, value = secret(box)
        timeout = SocketTimeout(connect=min(15.0, box.timeout_s), read=box.timeout_s)
        with wrapped(f"connecting to {box.host}:{box.port}"):
            context = tls_context(box) if box.tls != "none" else None
            client = IMAPClient(box.host, port=box.port, ssl=box.tls == "ssl", timeout=timeout, ssl_context=context)
            self.client = client
            client.normalise_times = False  # keep INTERNALDATE's offset; we convert to UTC ourselves
            if context is not None and box.tls == "starttls":
                client.starttls(context)
        with wrapped("login"):
            if kind == "oauth2":
                client.oauth2_login(box.user, value)
            else:
                client.login(box.user, value)
        with wrapped(f"selecting {box.folder}"):
            info = client.select_folder(box.folder, readonly=box.after_import == "none")  # none: EXAMINE
            self.uidvalidity = int(info[b"UIDVALIDITY"])
            self.can_idle = box.idle and client.has_capability("IDLE")
            self.can_keyword = b"\\*" in tuple(info.get(b"PERMANENTFLAGS", ()))
            if box.after_import == "move" and not client.folder_exists(box.move_to):
                client.create_folder(box.move_to)

    @property
    def _client(self) -> IMAPClient:
        if self.client is None:
            raise MailboxUnavailable("not connected")
        return self.client

    def new_uids(self, after: int) -> list[int]:
        """UIDs above `after`: one round trip. `N:*` always matches the highest UID, so filter here."""
        with wrapped("searching"):
            found = self._client.search(["UID", f"{after + 1}:*"])
        return sorted(uid for uid in found if uid > after)

    def fetch(self, uids: Sequence[int]) -> list[Fetched]:
        """The raw messages, in UID order; a UID expunged meanwhile is simply absent."""
        with wrapped("fetching"):
            data = self._client.fetch(list(uids), [b"BODY.PEEK[]", b"INTERNALDATE"])
        return [Fetched(uid, data[uid][b"BODY[]"], internal_time(data[uid].get(b"INTERNALDATE")))
                for uid in sorted(data) if b"BODY[]" in data[uid]]

    def mark(self, uids: Sequence[int]) -> None:
        """What the config says to do with a stored message: flag it, move it, or leave it alone."""
        box, client = self.mailbox, self._client
        if not uids or box.after_import == "none":
            return
        with wrapped(f"marking ({box.after_import})"):
            if box.after_import == "flag":
                client.add_flags(list(uids), [SEEN, box.keyword.encode()] if self.can_keyword else [SEEN],
                                 silent=True)
            elif client.has_capability("MOVE"):
                client.move(list(uids), box.move_to)
            else:  # without MOVE: copy, delete, and expunge only our UIDs when UIDPLUS lets us
                client.copy(list(uids), box.move_to)
                client.add_flags(list(uids), [b"\\Deleted"], silent=True)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(list(uids))
                else:
                    client.expunge()

    def idle_start(self) -> None:
        with wrapped("starting IDLE"):
            self._client.idle()
        self.idling = True

    def idle_wait(self, timeout_s: float) -> bool:
        """Block up to timeout_s; True when the server said something (new mail, expunge, BYE)."""
        with wrapped("waiting in IDLE"):
            return bool(self._client.idle_check(timeout=timeout_s))

    def idle_stop(self) -> None:
        self.idling = False
        with wrapped("ending IDLE"):
            self._client.idle_done()

    def close(self) -> None:
        """Log out politely if the connection still works; never raises."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if self.idling:
                self.idling = False
                client.idle_done()
            client.logout()
        except CONNECTION_ERRORS:  # socket timeouts are OSErrors too
            with contextlib.suppress(*CONNECTION_ERRORS):
                client.shutdown()
