"""The small records the stages hand each other."""

from __future__ import annotations

import pytest

from pipeline.records import IngestResult


@pytest.mark.parametrize(
    ("result", "said"),
    [
        (IngestResult("smtp", "created", ticket="SR-000001"), "created SR-000001"),
        (IngestResult("smtp", "appended", ticket="SR-000001", reason="reply"), "appended SR-000001 (reply)"),
        (IngestResult("smtp", "suppressed", reason="auto-reply: Auto-Submitted"),
         "suppressed (auto-reply: Auto-Submitted)"),
        (IngestResult("smtp", "duplicate"), "duplicate"),
    ],
)
def test_summary_names_only_what_a_result_has(result: IngestResult, said: str) -> None:
    assert result.summary() == said
