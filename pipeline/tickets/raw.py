"""Raw inputs: stored (and committed) before anything else can fail, deduplicated, quarantined on failure."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from pipeline.records import RawInput
from pipeline.store import models, queries, writes

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(?:\r?\n[ \t]+)?<?([^\s<>]+)>?", re.I | re.M)
HEADER_SCAN_BYTES = 256 * 1024


def peek_message_id(raw: bytes) -> str | None:
    """The Message-ID of the top-level header block, without parsing the message."""
    head = raw[:HEADER_SCAN_BYTES]
    end = _HEADER_END.search(head)
    if end:
        head = head[: end.start()]
    found = _MESSAGE_ID.search(head)
    if not found:
        return None
    value = found.group(1).decode("ascii", "replace").strip()
    return value[:900] or None


@dataclass(frozen=True)
class Stored:
    raw_id: int
    fresh: bool  # False: this content (or Message-ID) was stored before
    status: str  # received | processed | quarantined
    ticket_id: int | None = None


def dedupe_key(raw: bytes, message_id: str | None) -> tuple[str, str]:
    digest = hashlib.sha256(raw).hexdigest()
    return (f"mid:{message_id}" if message_id else f"sha256:{digest}"), digest


def store_raw(session: Session, item: RawInput, channel: str = "email") -> Stored:
    """Insert the raw bytes unless they are already there; the caller commits before answering."""
    message_id = peek_message_id(item.raw) if channel == "email" else None
    key, digest = dedupe_key(item.raw, message_id)
    values = dict(
        dedupe_key=key,
        content_hash=digest,
        message_id=message_id,
        source=item.source,
        channel=channel,
        envelope_from=item.envelope_from,
        envelope_to=",".join(item.envelope_to) or None,
        size=len(item.raw),
        raw=item.raw,
        status="received",
        attempts=0,
        received_at=item.received_at,
    )
    new_id = writes.insert_raw(session, values)
    if new_id is not None:
        return Stored(new_id, True, "received")
    existing = queries.raw_by_dedupe_key(session, key)
    assert existing is not None  # the conflict says it exists
    return Stored(existing.id, False, existing.status, existing.ticket_id)


def quarantine(session: Session, raw_id: int, reason: str) -> None:
    session.execute(
        update(models.RawInput)
        .where(models.RawInput.id == raw_id)
        .values(status="quarantined", reason=reason[:2000], attempts=models.RawInput.attempts + 1)
    )
