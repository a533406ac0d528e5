"""Grade a fault 1-4 from what the customer wrote, and say which rule decided.

The rules live in the policy's [severity] table (pipeline/policy/triage.toml):

* explicit rules: a level the customer states ("一级故障", "P2", "severity 1", "紧急", "urgent").
  When any of them matches, keyword rules are not consulted.
* keyword rules, one named table per symptom (outage, outage risk, degradation, question...).
* default_level when nothing matches.

Overlaps go to the longer phrase: "间歇性中断" (intermittent, level 4) hides the "中断" inside it
(level 1), and "不紧急" hides "紧急". A connection symptom asked about in a how-to question that names
no reach ("请问打印机无法连接网络怎么办") counts at the [severity.asked] level (pipeline/triage/questions.py).
Of the matches left, the most severe level wins; the reason quotes its first match. Negation is
otherwise not understood.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pipeline.errors import ConfigError
from pipeline.records import Severity
from pipeline.triage import needles, patterns, questions

GRADE_CHARS = 5000


@dataclass(frozen=True)
class Rule:
    name: str
    level: Severity
    explicit: bool  # the customer states the level, rather than describing the symptom
    matcher: patterns.Matcher

    def describe(self) -> str:
        return f"explicit {self.name} rule" if self.explicit else f"{self.name} rule"


class Match(NamedTuple):  # a tuple: built for every match of every rule, so it must be cheap
    rule: Rule
    start: int
    end: int
    text: str

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class SeverityRules:
    default_level: Severity
    explicit: tuple[Rule, ...]
    keywords: tuple[Rule, ...]
    asked: questions.AskedRule | None = None  # keyword matches asked about rather than reported
    # Every rule's needles, or more: TriageRules gives grading and escalation one index, so the
    # needles of a mail are searched once.
    index: needles.Index | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.index is None:
            object.__setattr__(self, "index", needles.Index.of(self.anchors()))

    def anchors(self) -> Iterator[needles.Anchor | None]:
        return (anchor for rule in self.explicit + self.keywords for anchor in rule.matcher.anchors)

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> SeverityRules:
        table = patterns.section(policy, "severity")
        return cls(
            default_level=_level(table.get("default_level"), "severity.default_level"),
            explicit=_rules(table.get("explicit", {}), explicit=True),
            keywords=_rules(table.get("keywords", {}), explicit=False),
            asked=questions.AskedRule.from_policy(table.get("asked")),
        )


def _level(value: object, where: str) -> Severity:
    if isinstance(value, bool) or not isinstance(value, int) or value not in tuple(Severity):
        raise ConfigError(f"policy {where}: expected a level 1-4, got {value!r}")
    return Severity(value)


def _rules(tables: object, *, explicit: bool) -> tuple[Rule, ...]:
    kind = "explicit" if explicit else "keywords"
    if not isinstance(tables, Mapping):
        raise ConfigError(f"policy severity.{kind}: expected a table of rules")
    rules = []
    for name, table in tables.items():
        where = f"severity.{kind}.{name}"
        named = patterns.NamedPattern.from_table(name, table, where=where)
        rules.append(Rule(name, _level(table.get("level"), f"{where}.level"), explicit, named.matcher))
    return tuple(rules)


def find_matches(
    haystack: patterns.Haystack, rules: Iterable[Rule], occurrences: needles.Occurrences | None = None
) -> list[Match]:
    """Every rule's matches, overlaps resolved in favour of the longer phrase (then the more severe).

    `occurrences` (from SeverityRules.index) lets rules whose needles are absent be skipped.
    """
    return [
        Match(rule, start, end, haystack.shown[start:end]) for start, end, rule in _kept(haystack, rules, occurrences)
    ]


def _kept(
    haystack: patterns.Haystack, rules: Iterable[Rule], occurrences: needles.Occurrences | None
) -> list[tuple[int, int, Rule]]:
    """find_matches as (start, end, rule), without quoting each match."""
    hits = [(start, end, rule) for rule in rules for start, end in rule.matcher.spans(haystack.folded, occurrences)]
    by_start = sorted(hits, key=_span)
    if all(left[1] <= right[0] for left, right in itertools.pairwise(by_start)):
        return by_start  # no overlaps, the usual case: every match stays
    # Longest first, then most severe, then first in the text, then in the order found.
    ranked = sorted(range(len(hits)), key=lambda i: (hits[i][0] - hits[i][1], hits[i][2].level, hits[i][0], i))
    taken = bytearray(len(haystack.folded))  # 1 where a kept match lies
    kept = []
    for i in ranked:
        start, end, _ = hits[i]
        if taken.find(1, start, end) == -1:
            taken[start:end] = b"\x01" * (end - start)
            kept.append(hits[i])
    kept.sort(key=_span)  # kept matches never overlap, so no two start together
    return kept


def _span(hit: tuple[int, int, Rule]) -> tuple[int, int]:
    return hit[0], hit[1]


def decide(matches: list[Match]) -> Match | None:
    """The most severe match; of those, the first in the text."""
    if not matches:
        return None
    return min(matches, key=lambda match: (match.rule.level, match.start))


def grade(subject: str, text: str, rules: SeverityRules) -> tuple[Severity, str]:
    """The level and why, from the subject and the customer's own words (or a call transcript).

    Only the first GRADE_CHARS characters of the text are read: the symptom is stated early, and
    the cost stays bounded on a pasted 50-page log.
    """
    haystack = patterns.Haystack.of(f"{subject}\n{text[:GRADE_CHARS]}")
    occurrences = rules.index.find(haystack.folded)  # type: ignore[union-attr]
    for group in (rules.explicit, rules.keywords):
        kept = _kept(haystack, group, occurrences)
        if kept and group is rules.keywords and rules.asked is not None:
            return _regraded(haystack, kept, rules.asked)
        if kept:  # as decide(find_matches(...)), quoting the winner only
            start, end, rule = min(kept, key=lambda hit: (hit[2].level, hit[0]))
            level = rule.level
            return level, f"level {int(level)}: {rule.describe()} matched '{haystack.shown[start:end]}'"
    level = rules.default_level
    return level, f"level {int(level)}: default, no rule matched"


def _regraded(haystack: patterns.Haystack, kept: list[tuple[int, int, Rule]],
              asked: questions.AskedRule) -> tuple[Severity, str]:
    """decide() over keyword matches, a symptom asked about counting at the asked level."""
    graded = []
    for start, end, rule in kept:
        question = asked.asked_by(haystack.folded, start, end, rule.level)
        graded.append((asked.level if question else rule.level, start, end, rule, question))
    level, start, end, rule, question = min(graded, key=lambda hit: (hit[0], hit[1]))
    why = f"level {int(level)}: {rule.describe()} matched '{haystack.shown[start:end]}'"
    if question:
        why += f" in a question ('{haystack.shown[question[0]:question[1]]}')"
    return level, why
