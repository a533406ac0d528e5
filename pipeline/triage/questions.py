"""Symptoms asked about rather than reported: the policy's [severity.asked] table.

"请问打印机无法连接网络怎么办？" asks how to fix one printer; "打印机无法连接网络" alone reports a fault that
may be the whole network's. A connection symptom such as "无法连接" or "unreachable" says what fails but
not how widely, so in a sentence that asks how (one of `questions`) about one user's device (one of
`devices`: a printer, a laptop, a phone) and names no reach (none of `scope`) it counts at the table's
`level` (3) instead of its rule's (1): something is broken, so it is no usage question, and nothing says
that service is down. Without a device it stays an outage: "数据库服务器无法连接，请问怎么办？" is one,
asked politely. It never raises a level, and every other match of the
mail still counts ("请问全厂网络无法连接怎么办" names its reach; "…无法连接，业务中断" has an outage
phrase of its own).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError
from pipeline.records import Severity
from pipeline.triage import patterns

# Where a sentence ends, in folded (NFKC) text: full-width ！？； are ASCII there, "。" stays. A period
# ends a sentence only before a space or the end, so "192.168.1.1" and "v2.1" do not.
_BREAK = re.compile(r"[\n。!?;]|\.(?=\s|$)")


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence holding text[start:end]."""
    begin = 0
    for found in _BREAK.finditer(text, 0, start):
        begin = found.end()
    after = _BREAK.search(text, end)
    return begin, after.start() if after else len(text)


def _phrase_key(text: str) -> str:
    return " ".join(patterns.fold(patterns.normalize(text)).split())


@dataclass(frozen=True)
class AskedRule:
    level: Severity
    symptoms: frozenset[str]  # folded, single-spaced
    questions: patterns.Matcher
    devices: patterns.Matcher
    scope: patterns.Matcher

    @classmethod
    def from_policy(cls, table: object) -> AskedRule | None:
        """The [severity.asked] table (None when the policy has none); ConfigError names a bad key."""
        if table is None:
            return None
        where = "severity.asked"
        if not isinstance(table, Mapping):
            raise ConfigError(f"policy {where}: expected a table")
        level = table.get("level")
        if isinstance(level, bool) or not isinstance(level, int) or level not in tuple(Severity):
            raise ConfigError(f"policy {where}.level: expected a level 1-4, got {level!r}")
        return cls(
            level=Severity(level),
            symptoms=frozenset(map(_phrase_key, _phrases(table, "symptoms"))),
            questions=patterns.compile_any(_phrases(table, "questions"), where=f"{where}.questions"),
            devices=patterns.compile_any(_phrases(table, "devices"), where=f"{where}.devices"),
            scope=patterns.compile_any(_phrases(table, "scope"), where=f"{where}.scope"),
        )

    def asked_by(self, folded: str, start: int, end: int, level: Severity) -> tuple[int, int] | None:
        """Where the question is that makes the match folded[start:end] (of a rule at `level`) a symptom
        asked about, which then counts at self.level; None when it is not one."""
        if level >= self.level or _phrase_key(folded[start:end]) not in self.symptoms:
            return None
        begin, stop = sentence_around(folded, start, end)
        sentence = folded[begin:stop]
        if self.scope.spans(sentence) or not self.devices.spans(sentence):
            return None
        asked = self.questions.spans(sentence)
        if not asked:
            return None
        first, last = min(asked)
        return begin + first, begin + last


def _phrases(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    phrases = patterns.string_list(table, key, where="severity.asked")
    if not phrases:
        raise ConfigError(f"policy severity.asked.{key}: expected a list of phrases")
    return phrases
