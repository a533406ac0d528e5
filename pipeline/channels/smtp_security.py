"""What the SMTP/LMTP receiver demands of its clients: STARTTLS with the configured certificate, and AUTH
against a users file ("user:password" lines), required whenever it listens beyond loopback.

Off loopback both are required: AUTH because otherwise anyone who can reach the port can make tickets, TLS
because aiosmtpd (rightly) offers AUTH only inside TLS. On loopback they are optional; AUTH without TLS
is allowed there, since the password never leaves the host.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import ssl
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from pipeline.errors import ConfigError
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: we cannot know what it resolves to, so treat it as public
        return False


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("smtp.tls_cert, smtp.tls_key: set both (certificate chain and its key) or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"smtp.tls_cert, smtp.tls_key: cannot load {cert} / {key}: {exc}") from exc
    return context


def read_users(path: Path) -> dict[str, str]:
    """'user:password' per line; blank lines and '#' comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"smtp.auth_users_file: cannot read {path}: {exc.strerror}") from exc
    users: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user.strip():
            raise ConfigError(f"smtp.auth_users_file: {path} line {number}: expected user:password")
        users[user.strip()] = password
    if not users:
        raise ConfigError(f"smtp.auth_users_file: {path} names no user")
    return users


class Authenticator:
    """aiosmtpd `authenticator`: PLAIN and LOGIN against the users file, compared in constant time."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = {user: password.encode() for user, password in users.items()}

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        expected = self.users.get(user)
        if expected is None or not hmac.compare_digest(expected, auth_data.password):
            log.warning("SMTP AUTH %s failed for %r from %s", mechanism, user, session.peer)
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, handled=False, auth_data=auth_data)


def server_options(settings: Settings) -> dict[str, Any]:
    """aiosmtpd keyword arguments for TLS and AUTH; ConfigError naming the key when the setup is unsafe."""
    options = settings.smtp
    host = settings.smtp_bind[0]
    context = tls_context(options.tls_cert, options.tls_key)
    users = read_users(options.auth_users_file) if options.auth_users_file else None
    if not is_loopback(host):
        if users is None:
            raise ConfigError(f"smtp.auth_users_file: required when smtp_listen ({settings.smtp_listen}) is not a "
                              "loopback address, so that only your MTA can deliver")
        if context is None:
            raise ConfigError(f"smtp.tls_cert, smtp.tls_key: required when smtp_listen ({settings.smtp_listen}) "
                              "is not a loopback address: AUTH is offered only after STARTTLS")
    if options.require_starttls and context is None:
        raise ConfigError("smtp.require_starttls: needs smtp.tls_cert and smtp.tls_key")
    result: dict[str, Any] = {"tls_context": context, "require_starttls": options.require_starttls}
    if users is not None:
        result.update(authenticator=Authenticator(users), auth_required=True, auth_require_tls=context is not None)
    return result
