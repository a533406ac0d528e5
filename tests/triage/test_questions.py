"""[severity.asked]: the sentence around a symptom, and whether it asks about it (tests/triage/test_severity.py
grades whole texts with it)."""

from __future__ import annotations

import pytest

from pipeline import triage
from pipeline.records import Severity
from pipeline.triage import patterns, questions


@pytest.mark.parametrize(
    ("text", "symptom", "sentence"),
    [
        ("服务器无法连接。请问如何处理？", "无法连接", "服务器无法连接"),
        ("你好!\n请问打印机无法连接网络,怎么办?谢谢", "无法连接", "请问打印机无法连接网络,怎么办"),
        ("Hi. Why is 10.0.0.1 unreachable? Thanks", "unreachable", "Why is 10.0.0.1 unreachable"),
        ("无法连接", "无法连接", "无法连接"),
    ],
)
def test_sentence_around(text: str, symptom: str, sentence: str) -> None:
    start = text.index(symptom)
    begin, end = questions.sentence_around(text, start, start + len(symptom))
    assert text[begin:end].strip() == sentence


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("请问打印机无法连接网络怎么办", "请问"),
        ("why can i not reach it? printer unreachable, how to fix", "how to"),
        ("打印机无法连接网络", None),  # reported, not asked
        ("请问所有打印机无法连接怎么办", None),  # its reach is named
        ("请问打印机无法连接。", "请问"),
        ("数据库服务器无法连接，请问怎么办", None),  # no user's device: an outage, asked politely
        ("our production database is unreachable, how should we proceed", None),
    ],
)
def test_asked_by(text: str, asked: str | None, rules: triage.TriageRules) -> None:
    rule = rules.severity.asked
    assert rule is not None
    folded = patterns.fold(patterns.normalize(text))
    symptom = next(s for s in ("无法连接", "unreachable") if s in folded)
    start = folded.index(symptom)
    found = rule.asked_by(folded, start, start + len(symptom), Severity.CRITICAL)
    assert (folded[found[0]:found[1]] if found else None) == asked
    assert rule.asked_by(folded, start, start + len(symptom), Severity.MINOR) is None  # never upwards
