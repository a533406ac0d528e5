"""Needles: what every match of a pattern contains, where they occur, and that skipping by them changes nothing."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from pipeline import triage
from pipeline.triage import needles, patterns

ANCHORS = [
    # (regex, flags, needles every match contains; None: the regex forces none)
    ("(?:故障)?(?:等级|級別)\\s*(?:一|1)", re.IGNORECASE, {"等级", "級別"}),
    ("(?<![A-Za-z0-9])(?:sev(?:erity)?|prio(?:rity)?)\\s*1(?![0-9])", re.IGNORECASE, {"sev", "prio"}),
    ("(?:is|are|went)\\s+OFFLINE", re.IGNORECASE, {"offline"}),  # the longest sure string wins
    ("x[ab]c", 0, {"xac", "xbc"}),
    ("(?:foo)+bar*", 0, {"foo"}),
    ("(?-i:ABC)x", re.IGNORECASE, {"ABCx"}),  # case kept where case counts
    ("a|b", 0, {"a", "b"}),
    ("[>＞]", re.IGNORECASE, {">", "＞"}),
    ("\\d+", 0, None),
    ("a*", 0, None),
    ("é", re.IGNORECASE, None),  # matches "É" too: no needle can say so in folded text
    ("ab|\\w+", 0, None),  # one alternative forces nothing
    ("(a)\\1", 0, {"a"}),
]


@pytest.mark.parametrize(("regex", "flags", "expected"), ANCHORS)
def test_regex_anchor(regex: str, flags: int, expected: set[str] | None) -> None:
    anchor = needles.regex_anchor(regex, flags)
    assert (None if anchor is None else set(anchor.needles)) == expected


def test_ascii_twins_are_every_other_character_a_case_insensitive_letter_matches() -> None:
    others = "".join(map(chr, range(0x80, 0x110000)))
    assert set(re.findall("[a-z]", others, re.IGNORECASE)) == set(needles.ASCII_TWINS)


def occurrences_by_hand(folded: str, keys: set[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for key in keys:
        word = key.removeprefix(needles.WORD)
        for start in range(len(folded)):
            at_word_start = start == 0 or not re.match("[a-z0-9]", folded[start - 1])
            if folded.startswith(word, start) and (at_word_start or word == key):
                found.setdefault(key, []).append(start)
    return found


PIECES = [
    "down",
    "do",
    "download",
    "宕机",
    "宕",
    "机",
    "中断",
    "不紧急",
    "紧急",
    "sev",
    "seven",
    "x",
    " ",
    "\n",
    "1",
    "-",
    "é",
]


@pytest.mark.parametrize("ascii_only", [False, True])
def test_index_finds_every_occurrence_of_every_needle(ascii_only: bool) -> None:
    keys = {needles.phrase_needle(word) for word in ("down", "download", "宕机", "中断", "紧急", "不紧急")}
    keys |= {"sev", "do", "机", "x-"}
    index = needles.Index.of([needles.Anchor(frozenset(keys), starts=False)])
    rng = random.Random(3)
    pieces = [piece for piece in PIECES if piece.isascii() or not ascii_only]
    for _ in range(300):
        folded = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert index.find(folded) == occurrences_by_hand(folded, keys), folded


def test_no_needle_search_where_a_twin_could_match() -> None:
    index = needles.Index.of([needles.regex_anchor("sev", re.IGNORECASE)])
    assert index.find("ſev 1") is None


def random_texts(policy: dict[str, Any], count: int) -> list[str]:
    """Texts made of the policy's own phrases, cut and glued, in upper and lower case."""
    tables = [*policy["severity"]["explicit"].values(), *policy["severity"]["keywords"].values()]
    words = [phrase for table in [*tables, *policy["escalation"].values()] for phrase in table.get("phrases", ())]
    words += [
        "等级为1",
        "severity: 2",
        "prio 3",
        "some users are down",
        "偶尔会中断",
        "ＳＥＶ１",
        "ı",
        "ſ",
        "x",
        " ",
        "\n",
    ]
    rng = random.Random(7)
    texts = []
    for _ in range(count):
        text = ""
        for _ in range(rng.randint(0, 8)):
            word = rng.choice(words)
            word = word[: rng.randint(1, len(word))] if rng.random() < 0.2 else word
            text += (word.upper() if rng.random() < 0.2 else word) + rng.choice(["", " ", "了", ",", "\n"])
        texts.append(text)
    return texts


def test_needles_change_no_match(policy: dict[str, Any], rules: triage.TriageRules) -> None:
    matchers = [rule.matcher for rule in rules.severity.explicit + rules.severity.keywords]
    matchers += [rule.matcher for rule in rules.escalation.rules]
    for text in random_texts(policy, 400):
        haystack = patterns.Haystack.of(text)
        found = rules.severity.index.find(haystack.folded)
        for matcher in matchers:
            plain = [(hit.start, hit.end) for hit in matcher.finditer(haystack)]
            assert [(hit.start, hit.end) for hit in matcher.finditer(haystack, found)] == plain, text
            assert matcher.search(haystack, found) == matcher.search(haystack), text
