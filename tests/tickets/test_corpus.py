"""Conformance: every real-world message of ../shared/corpus/email through the whole pipeline.

No exception escapes; every message ends created, appended, duplicate, suppressed or quarantined with a
reason; nothing the manifest calls an auto-reply, a bounce or list mail is acknowledged; no decodable
message's subject or text holds U+FFFD. Skips when the corpus is absent.
"""

from __future__ import annotations

import collections
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pipeline.records import IngestResult, RawInput
from pipeline.runtime import Runtime
from pipeline.store import models
from pipeline.tickets import bulk
from tests.conftest import CORPUS, make_settings

EMAIL = CORPUS / "email"
NEVER_ACKED = {"auto-reply", "bounce", "list"}


CorpusRun = tuple[list[dict[str, Any]], dict[str, IngestResult], Runtime]


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    if not (EMAIL / "manifest.json").exists():
        pytest.skip(f"the shared corpus is not at {EMAIL}")
    manifest = json.loads((EMAIL / "manifest.json").read_text(encoding="utf-8"))
    rt = Runtime.open(make_settings(tmp_path_factory.mktemp("corpus"), ack_rate_limit_per_hour=0))
    at = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
    rt.clock = lambda: at  # processed as it arrives: mail older than catch_up would get no ack at all
    items = [RawInput(raw=(EMAIL / entry["file"]).read_bytes(), source=entry["file"], received_at=at)
             for entry in manifest]
    results = {r.source: r for r in bulk.ingest_all(rt, iter(items), workers=1)}
    return manifest, results, rt


def test_every_message_ends_with_a_known_status_and_reason(corpus_run: CorpusRun) -> None:
    manifest, results, _ = corpus_run
    assert len(results) == len(manifest)
    counts = collections.Counter(str(r.status) for r in results.values())
    print("corpus statuses:", dict(counts))
    assert set(counts) <= {"created", "appended", "duplicate", "suppressed", "quarantined"}
    for result in results.values():
        if result.status in ("suppressed", "quarantined", "duplicate"):
            assert result.reason, result.source


def test_automatic_mail_is_never_acknowledged(corpus_run: CorpusRun) -> None:
    manifest, _, rt = corpus_run
    with rt.sessions() as session:
        acked = set(session.scalars(
            select(models.RawInput.source)
            .join(models.Job, (models.Job.ticket_id == models.RawInput.ticket_id) & (models.Job.kind == "ack"))
            .where(models.RawInput.result == "created")))
    wrong = [e["file"] for e in manifest if e["class"] in NEVER_ACKED and e["file"] in acked]
    assert wrong == []
    assert any(e["class"] == "human" and e["file"] in acked for e in manifest)  # acks do go out


def test_decodable_messages_hold_no_replacement_character(corpus_run: CorpusRun) -> None:
    _, _, rt = corpus_run
    with rt.sessions() as session:
        rows = session.execute(select(models.Message.subject, models.Message.text, models.Message.decoding,
                                      models.RawInput.source)
                               .join(models.RawInput, models.RawInput.id == models.Message.raw_id)).all()
    garbled = [source for subject, text, decoding, source in rows
               if not decoding and ("\ufffd" in (subject or "") or "\ufffd" in (text or ""))]
    assert garbled == []
    assert Path(EMAIL).is_dir()
