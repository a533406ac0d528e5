"""When a message arrived, read from its own headers: the arrival time of mail imported from files.

The topmost Received: header is the last hop, written by our own MTA as it took the message in; its date
follows the last ";" (RFC 5321 4.4). Without a readable one, the sender's Date: header is the best we
have, and without that, the caller's `now`. No answer lies after `now`: a sender's clock running fast
must not start SLA clocks in the future. Live channels do not ask: SMTP knows the instant it answered
250, IMAP has INTERNALDATE.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from pipeline.mail import addresses

HEADER_SCAN_BYTES = 256 * 1024
_DATING_NAMES = (b"received", b"date")
_LEADING_BREAKS = re.compile(rb"[\r\n]*")
_HEADER_END = re.compile(rb"\n\r?\n")


def received_date(value: str) -> datetime | None:
    """The date stamp of one Received: header (aware UTC), or None when it has none readable."""
    _, semicolon, stamp = value.rpartition(";")
    return addresses.parse_date(stamp) if semicolon else None


def arrival_at(headers: Iterable[tuple[str, str]], now: datetime) -> datetime:
    """The arrival time of a message from its (name, value) header fields, in order (ParsedMail.headers
    or dating_fields): the topmost readable Received: date, else Date:, else now; never after now."""
    date_value = None
    for name, value in headers:
        name = name.lower()
        if name == "received":
            stamp = received_date(value)
            if stamp is not None:
                return min(stamp, now)
        elif name == "date" and date_value is None:
            date_value = value
    written = addresses.parse_date(date_value)
    return now if written is None else min(written, now)


def dating_fields(raw: bytes) -> list[tuple[str, str]]:
    """The Received: and Date: fields of the top-level header of raw message bytes, unfolded, in order.

    A scan of the header lines rather than a parse: `intake ingest` asks this of every message in the
    process that records them, where the email package's header parser would cost several times more.
    """
    fields: list[tuple[bytes, list[bytes]]] = []
    current: list[bytes] | None = None  # the lines of the dating field being read, if one is
    for line in _header_block(raw).split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        name, colon, value = line.partition(b":")
        name = name.rstrip().lower()
        current = None
        if colon and name in _DATING_NAMES:
            current = [value]
            fields.append((name, current))
    return [(name.decode(), b" ".join(part.strip() for part in lines).decode("ascii", "replace"))
            for name, lines in fields]


def _header_block(raw: bytes) -> bytes:
    """The bytes before the first empty line (blank lines before the header skipped, as parse_mail does)."""
    start = _LEADING_BREAKS.match(raw).end()  # type: ignore[union-attr]  # matches "" at least
    end = _HEADER_END.search(raw, start, HEADER_SCAN_BYTES)
    return raw[start : end.start() if end else HEADER_SCAN_BYTES]


def arrival_at_of(raw: bytes, now: datetime) -> datetime:
    """arrival_at for raw message bytes."""
    return arrival_at(dating_fields(raw), now)
