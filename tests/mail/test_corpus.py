"""parse_mail over the shared corpus of real-world mail (/work/shared/corpus/email).

Every file parses or is refused with UnprocessableMail, and a message that decoded strictly
(``decoding == ()``) shows no U+FFFD in its subject or text: replacement is never silent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import errors
from pipeline.mail import parse

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "email"
MANIFEST = CORPUS / "manifest.json"
ENTRIES = json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.is_file() else []


@pytest.mark.skipif(not ENTRIES, reason=f"no corpus manifest at {MANIFEST}")
@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["file"] for entry in ENTRIES])
def test_corpus_message(entry: dict[str, object]) -> None:
    raw = (CORPUS / str(entry["file"])).read_bytes()
    try:
        mail = parse.parse_mail(raw)
    except errors.UnprocessableMail:
        return
    assert mail.size == len(raw)
    if not mail.decoding:
        assert "\ufffd" not in mail.subject
        assert "\ufffd" not in mail.text
