"""Raw bytes in, a recorded result out: store -> parse -> triage -> record, with the quarantine as the net.

Every channel calls `store` first and answers its source only after that commit; `process` may then
fail in any way and the raw input is still there, quarantined with its reason, ready for a retry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import triage
from pipeline.errors import NotFound, StoreUnavailable, UnprocessableMail
from pipeline.mail import parse
from pipeline.records import IngestResult, IngestStatus, ParsedMail, RawInput, Triage
from pipeline.runtime import Runtime
from pipeline.store import db, models, writes
from pipeline.tickets import raw as raw_store
from pipeline.tickets import recorder, service

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Understood:
    """Parse and triage of one raw input, or why it could not be understood."""

    mail: ParsedMail | None
    triage: Triage | None
    failure: str | None = None


def understand(raw: bytes, rules: triage.TriageRules, max_bytes: int, own_addresses: frozenset[str],
               own_domains: frozenset[str]) -> Understood:
    """The pure stages. Never raises: a failure is a quarantine reason."""
    try:
        mail = parse.parse_mail(raw, max_bytes=max_bytes)
        verdict = triage.triage_mail(mail, rules, own_addresses=own_addresses, own_domains=own_domains)
    except UnprocessableMail as exc:
        return Understood(None, None, str(exc))
    except Exception as exc:  # the per-item guard: log, quarantine, go on
        log.exception("parse/triage failed")
        return Understood(None, None, f"internal error: {type(exc).__name__}: {exc}")
    return Understood(mail, verdict)


def understand_in(rt: Runtime, raw: bytes) -> Understood:
    return understand(raw, rt.triage_rules, rt.settings.max_message_bytes, rt.own_addresses, rt.own_domains)


def store(rt: Runtime, items: Sequence[RawInput]) -> list[raw_store.Stored]:
    """Commit the raw inputs (one transaction). Raises StoreUnavailable when the database cannot."""
    with db.transaction(rt.sessions) as session:
        return raw_store.store_many(session, items)


def to_process(stored: Sequence[raw_store.Stored]) -> list[int]:
    """Indices of the stored inputs still to process: new ones, and ones a crash left unprocessed
    (each once, even when a batch holds the same message twice)."""
    seen: set[int] = set()
    indices = []
    for i, item in enumerate(stored):
        if (item.fresh or item.status == "received") and item.raw_id not in seen:
            seen.add(item.raw_id)
            indices.append(i)
    return indices


def duplicate_result(item: RawInput, stored: raw_store.Stored) -> IngestResult:
    """A message stored before: the raw input that holds it and, once processed, the ticket it went to."""
    on_ticket = f", on ticket {stored.ticket_number}" if stored.ticket_number else ""
    return IngestResult(item.source, IngestStatus.DUPLICATE, ticket=stored.ticket_number,
                        reason=f"already stored as raw input {stored.raw_id} ({stored.status}){on_ticket}",
                        raw_id=stored.raw_id, ticket_id=stored.ticket_id)


def results_in_order(items: Sequence[RawInput], stored: Sequence[raw_store.Stored], pending: Sequence[int],
                     recorded: Sequence[IngestResult]) -> list[IngestResult]:
    """One result per item, in input order: the recorded ones, and a duplicate result for the rest. A copy
    of a message recorded in this very batch names what became of that message (its ticket)."""
    results: list[IngestResult | None] = [None] * len(items)
    first_copies: dict[int, IngestResult] = {}
    for i, result in zip(pending, recorded, strict=True):
        results[i] = result
        if result.raw_id is not None:
            first_copies[result.raw_id] = result
    for i, (item, copy) in enumerate(zip(items, stored, strict=True)):
        if results[i] is None:
            results[i] = duplicate_result(item, _as_recorded(copy, first_copies.get(copy.raw_id)))
    return [result for result in results if result is not None]


def _as_recorded(stored: raw_store.Stored, first: IngestResult | None) -> raw_store.Stored:
    if first is None or first.status == IngestStatus.DUPLICATE:
        return stored
    status = "quarantined" if first.status == IngestStatus.QUARANTINED else "processed"
    return replace(stored, status=status, ticket_id=first.ticket_id, ticket_number=first.ticket)


def record(rt: Runtime, batch: Sequence[tuple[int, str, datetime, Understood]]) -> list[IngestResult]:
    """Write a batch in one transaction; if it fails, redo it item by item so only the culprit is quarantined."""
    try:
        with db.transaction(rt.sessions) as session:
            return _record(session, rt, batch)
    except StoreUnavailable:
        raise
    except Exception:
        if len(batch) > 1:
            return [result for entry in batch for result in record(rt, [entry])]
        raw_id, source = batch[0][0], batch[0][1]
        log.exception("recording raw input %s failed", raw_id)
        reason = "internal error while recording; see the log"
        with db.transaction(rt.sessions) as session:
            raw_store.quarantine(session, raw_id, reason)
        return [IngestResult(source, IngestStatus.QUARANTINED, reason=reason, raw_id=raw_id)]


def _record(session: Session, rt: Runtime, batch: Sequence[tuple[int, str, datetime, Understood]]
            ) -> list[IngestResult]:
    statuses = writes.raw_statuses(session, [raw_id for raw_id, *_ in batch])
    writer = recorder.Recorder(session, service.context(rt), rt.now())
    results: dict[int, IngestResult] = {}
    writer.prefetch([u.mail for _, _, _, u in batch if u.mail is not None])
    for raw_id, source, received_at, understood in batch:
        if statuses.get(raw_id) != "received":
            results[raw_id] = IngestResult(source, IngestStatus.DUPLICATE, reason="processed by another worker",
                                           raw_id=raw_id)
        elif understood.mail is None or understood.triage is None:
            reason = understood.failure or "not understood"
            raw_store.quarantine(session, raw_id, reason)
            results[raw_id] = IngestResult(source, IngestStatus.QUARANTINED, reason=reason, raw_id=raw_id)
        else:
            writer.add(raw_id=raw_id, source=source, mail=understood.mail, triage=understood.triage,
                         received_at=received_at)
    for result in writer.results():
        results[result.raw_id or 0] = result
    return [results[raw_id] for raw_id, *_ in batch]


def ingest(rt: Runtime, items: Sequence[RawInput],
           understood: Iterable[Understood] | None = None) -> list[IngestResult]:
    """Store, then process, a batch of raw inputs; results in input order."""
    stored = store(rt, items)
    pending = to_process(stored)
    if understood is None:
        understood = [understand_in(rt, items[i].raw) for i in pending]
    recorded = record(rt, [(stored[i].raw_id, items[i].source, items[i].received_at, u)
                           for i, u in zip(pending, understood, strict=True)])
    return results_in_order(items, stored, pending, recorded)


def process_stored(rt: Runtime, raw_id: int) -> IngestResult:
    """Process a raw input that is already stored (SMTP after its 250, recovery, quarantine retry)."""
    results = process_stored_many(rt, [raw_id])
    if not results:
        return IngestResult(str(raw_id), IngestStatus.QUARANTINED, reason="raw input not found")
    return results[0]


def process_stored_many(rt: Runtime, raw_ids: Sequence[int]) -> list[IngestResult]:
    """Process stored raw inputs in one batch (one transaction); ids not found are left out."""
    with rt.sessions() as session:
        rows = session.execute(
            select(models.RawInput.id, models.RawInput.raw, models.RawInput.source, models.RawInput.received_at)
            .where(models.RawInput.id.in_(list(dict.fromkeys(raw_ids))), models.RawInput.raw.is_not(None))
            .order_by(models.RawInput.id)
        ).all()
    return record(rt, [(raw_id, source, received_at, understand_in(rt, raw))
                       for raw_id, raw, source, received_at in rows])


def retry_quarantined(rt: Runtime, raw_id: int) -> IngestResult:
    with db.transaction(rt.sessions) as session:
        row = session.get(models.RawInput, raw_id)
        if row is None or row.status != "quarantined":
            raise NotFound(f"no quarantined item {raw_id}: see `intake quarantine list`")
        row.status = "received"
    return process_stored(rt, raw_id)
