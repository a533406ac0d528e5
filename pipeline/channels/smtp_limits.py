"""Per-client limits of the SMTP/LMTP receiver: concurrent connections and messages per minute.

A client over the connection limit is greeted with 421 and closed; one over the message rate gets 451 at
MAIL FROM (not when it authenticated: that is our own MTA). Both are 4xx, so a well-behaved MTA queues and
retries later: nothing is lost, it only waits.
Everything here runs on the event loop's thread, so plain dicts need no lock.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections from your address, try again later"
TOO_MANY_MESSAGES = "451 4.7.1 Too many messages from your address, try again later"
WINDOW_S = 60.0
PRUNE_ABOVE = 10_000  # clients remembered before forgetting the quiet ones


def client_address(peer: Any) -> str:
    """The client's IP address from aiosmtpd's session.peer ((host, port) or a path)."""
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


class ClientLimits:
    """Counts per client address; a limit of 0 means no limit."""

    def __init__(self, max_connections: int, max_messages_per_minute: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_connections = max_connections
        self.max_messages = max_messages_per_minute
        self.clock = clock
        self.connections: Counter[str] = Counter()
        self.sent: dict[str, deque[float]] = {}

    def connect(self, client: str) -> bool:
        if self.max_connections > 0 and self.connections[client] >= self.max_connections:
            return False
        self.connections[client] += 1
        return True

    def disconnect(self, client: str) -> None:
        self.connections[client] -= 1
        if self.connections[client] <= 0:
            del self.connections[client]

    def allow_message(self, client: str) -> bool:
        """Count one more message from `client`; False when it already sent its share this minute."""
        if self.max_messages <= 0:
            return True
        now = self.clock()
        window = self.sent.setdefault(client, deque())
        while window and window[0] <= now - WINDOW_S:
            window.popleft()
        if len(window) >= self.max_messages:
            return False
        window.append(now)
        if len(self.sent) > PRUNE_ABOVE:
            self.sent = {c: w for c, w in self.sent.items() if w and w[-1] > now - WINDOW_S}
        return True


class Guarded:
    """Mixin for aiosmtpd's protocol classes: admits a connection only within its client's limit."""

    limits: ClientLimits
    _client: str | None = None  # set while this connection is counted

    def __init__(self, *args: Any, limits: ClientLimits, **kwargs: Any) -> None:
        self.limits = limits
        self._admitted = True
        super().__init__(*args, **kwargs)

    def connection_made(self, transport: Any) -> None:
        first = self.transport is None  # type: ignore[attr-defined]  # STARTTLS calls this again
        super().connection_made(transport)  # type: ignore[misc]
        if first:
            client = client_address(self.session.peer)  # type: ignore[attr-defined]
            self._admitted = self.limits.connect(client)
            self._client = client if self._admitted else None

    async def _handle_client(self) -> None:
        if not self._admitted:
            await self.push(TOO_MANY_CONNECTIONS)  # type: ignore[attr-defined]
            self.transport.close()  # type: ignore[attr-defined]
            return
        await super()._handle_client()  # type: ignore[misc]

    def connection_lost(self, error: Exception | None) -> None:
        if self._client is not None:
            self.limits.disconnect(self._client)
            self._client = None
        super().connection_lost(error)  # type: ignore[misc]


class GuardedSMTP(Guarded, SMTP):
    pass


class GuardedLMTP(Guarded, LMTP):
    pass
