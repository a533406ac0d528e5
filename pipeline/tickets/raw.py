"""Raw inputs: stored (and committed) before anything else can fail, deduplicated, quarantined on failure."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from pipeline.records import RawInput
from pipeline.store import models, writes

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
    ticket_id: int | None = None  # the ticket the stored copy went to, once processed
    ticket_number: str | None = None


def dedupe_key(raw: bytes, message_id: str | None) -> tuple[str, str]:
    digest = hashlib.sha256(raw).hexdigest()
    return (f"mid:{message_id}" if message_id else f"sha256:{digest}"), digest


def store_many(session: Session, items: Sequence[RawInput], channel: str = "email") -> list[Stored]:
    """Insert the raw bytes of each item unless they are already there (one statement for the new ones);
    the caller commits before answering. A message twice in `items` is stored once."""
    rows = []
    for item in items:
        message_id = peek_message_id(item.raw) if channel == "email" else None
        key, digest = dedupe_key(item.raw, message_id)
        rows.append(dict(
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
            reason=None,
            attempts=0,
            received_at=item.received_at,
        ))
    keys = [row["dedupe_key"] for row in rows]
    existing = writes.raws_by_dedupe_keys(session, keys)
    new_rows = list({row["dedupe_key"]: row for row in reversed(rows) if row["dedupe_key"] not in existing}
                    .values())[::-1]
    inserted = writes.insert_raws(session, new_rows)  # key -> id; a concurrent writer may have won a key
    missing = [row["dedupe_key"] for row in new_rows if row["dedupe_key"] not in inserted]
    if missing:
        existing.update(writes.raws_by_dedupe_keys(session, missing))
    stored, fresh_keys = [], set(inserted)
    for key in keys:
        if key in fresh_keys:
            stored.append(Stored(inserted[key], True, "received"))
            fresh_keys.discard(key)  # a second copy in this batch is a duplicate of the first
        elif key in inserted:
            stored.append(Stored(inserted[key], False, "received"))
        else:
            raw_id, status, ticket_id, ticket_number = existing[key]
            stored.append(Stored(raw_id, False, status, ticket_id, ticket_number))
    return stored


def quarantine(session: Session, raw_id: int, reason: str) -> None:
    session.execute(
        update(models.RawInput)
        .where(models.RawInput.id == raw_id)
        .values(status="quarantined", reason=reason[:2000], attempts=models.RawInput.attempts + 1)
    )
