"""Phrases and regexes from the policy: word edges, case, full-width forms, overlapping matches."""

from __future__ import annotations

import random
import unicodedata

import pytest

from pipeline.errors import ConfigError
from pipeline.triage import patterns

PHRASES = ("down", "not reachable", "P1", "宕机", "中断")
REGEXES = ("(偶尔|间歇性?)中断",)

CASES = [
    # (text, every match as written)
    ("the link is down", ["down"]),
    ("设备down了", ["down"]),
    ("DOWN!", ["DOWN"]),
    ("download, breakdown, downgrade, sundown", []),
    ("Server NOT\n  reachable", ["NOT\n  reachable"]),
    ("Ｐ１", ["P1"]),
    ("P10 SP1 P1x", []),
    ("P1级故障", ["P1"]),
    ("服务器宕机，网络间歇性中断", ["宕机", "中断", "间歇性中断"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "found"), CASES)
def test_matcher_finditer(text: str, found: list[str]) -> None:
    matcher = patterns.compile_any(PHRASES, REGEXES, where="test")
    assert [hit.text for hit in matcher.finditer(patterns.Haystack.of(text))] == found


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("网络偶尔中断", "偶尔中断"),  # only the regex matches
        ("间歇性中断", "间歇性中断"),  # the regex and "间歇" start together: the longer wins
        ("it is down, not reachable", "down"),
        ("nothing here", None),
    ],
)
def test_matcher_search(text: str, first: str | None) -> None:
    matcher = patterns.compile_any(("down", "not reachable", "间歇"), REGEXES, where="test")
    found = matcher.search(patterns.Haystack.of(text))
    assert (found.text if found else None) == first


@pytest.mark.parametrize(
    ("phrases", "regexes", "message"),
    [
        ((), (), "policy test: no phrases and no regex"),
        (("  ",), (), "policy test: empty phrase"),
        ((), ("(unclosed",), "policy test: missing ), unterminated subpattern at position 0"),
    ],
)
def test_bad_patterns(phrases: tuple[str, ...], regexes: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        patterns.compile_any(phrases, regexes, where="test")
    assert str(caught.value) == message


def test_normalize_is_nfkc() -> None:
    """normalize's short cut (decompositions first) gives unicodedata's NFKC, whatever follows them."""
    blocks = [chr(code) for first, end in patterns._DECOMPOSED_BLOCKS for code in range(first, end)]
    others = ["a", "A", "e", "\u0301", "\u0308", "\u3099", "\u1100", "\u1161", "\u11a8", "가", "中", "ｶ", "ﾞ", " ", "\n"]
    rng = random.Random(11)
    for char in blocks:
        assert patterns.normalize(char) == unicodedata.normalize("NFKC", char), hex(ord(char))
    for _ in range(3000):
        text = "".join(
            rng.choice(blocks) if rng.random() < 0.5 else rng.choice(others) for _ in range(rng.randint(0, 8))
        )
        assert patterns.normalize(text) == unicodedata.normalize("NFKC", text), ascii(text)


@pytest.mark.parametrize("text", ["", "ABC def", "Ｐ１ and SEV1 设备DOWN了", "İı ſ K Ä"])
def test_fold_lowers_ascii_letters_only(text: str) -> None:
    assert patterns.fold(text) == "".join(char.lower() if "A" <= char <= "Z" else char for char in text)
