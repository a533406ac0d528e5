"""Phrase lists from the policy turned into regular expressions, compiled once.

Departments write plain phrases (`"宕机"`, `"not reachable"`) and, where they must, regular expressions.
A phrase that begins or ends with an ASCII letter or digit only matches at an ASCII word edge, so
"down" does not match inside "download" or "breakdown", while "设备down了" still matches: Python's
`\\b` would treat 设 and 了 as word characters and miss it. Whitespace inside a phrase matches any
run of whitespace. Text and patterns are NFKC-normalised, so full-width "Ｐ１" and "P1" are the same,
and phrases ignore the case of ASCII letters.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ConfigError
from pipeline.triage import needles

_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")
BEFORE = r"(?<![A-Za-z0-9])"
AFTER = r"(?![A-Za-z0-9])"
# Characters whose compatibility decomposition is already NFKC (full-width forms, CJK punctuation,
# ligatures, compatibility ideographs...). A text with these replaced by their decompositions has the
# same NFKD, and so the same NFKC, as the original; when it is already NFKC that is the answer, which
# costs a third of unicodedata.normalize on Chinese text.
_DECOMPOSED_BLOCKS = (
    (0x00A0, 0x0100), (0x2000, 0x2070), (0x2100, 0x2190), (0x2460, 0x2500), (0x3000, 0x3040),
    (0x3200, 0x3400), (0xF900, 0xFB00), (0xFE30, 0xFE70), (0xFF00, 0xFFF0),
)  # fmt: skip


def _decompositions() -> dict[str, str]:
    table = {}
    for first, end in _DECOMPOSED_BLOCKS:
        for char in map(chr, range(first, end)):
            decomposed = unicodedata.normalize("NFKD", char)
            if decomposed != char and unicodedata.is_normalized("NFKC", decomposed):
                table[char] = decomposed
    return table


_DECOMPOSITIONS = _decompositions()
_DECOMPOSABLE = re.compile(f"[{''.join(map(re.escape, _DECOMPOSITIONS))}]")
_ASCII_UPPER = re.compile("[A-Z]+")


def normalize(text: str) -> str:
    """NFKC: full-width letters, digits and punctuation become their ASCII forms."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    simpler = _DECOMPOSABLE.sub(_decomposition, text)
    if unicodedata.is_normalized("NFKC", simpler):
        return simpler
    return unicodedata.normalize("NFKC", simpler)


def _decomposition(match: re.Match[str]) -> str:
    return _DECOMPOSITIONS[match.group()]


def fold(text: str) -> str:
    """ASCII letters in lower case; every other character, and so every offset, stays."""
    if text.isascii():
        return text.lower()
    return _ASCII_UPPER.sub(_lower_match, text)


def _lower_match(match: re.Match[str]) -> str:
    return match.group().lower()


@dataclass(frozen=True)
class Haystack:
    """Text prepared once for every rule: `shown` to quote a match, `folded` to search."""

    shown: str
    folded: str

    @classmethod
    def of(cls, text: str) -> Haystack:
        return _haystack(text)


@functools.lru_cache(maxsize=16)  # grading and escalation read the same text of each mail
def _haystack(text: str) -> Haystack:
    shown = normalize(text)
    return Haystack(shown, fold(shown))


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    text: str  # as written (after NFKC), for the reason


def phrase_regex(phrase: str) -> str:
    """A literal phrase, in lower case, as a regular expression with ASCII word edges where it has them.

    The "no letter before" check comes after the first character ("d(?<![a-z0-9].)own") rather
    than before it: a pattern that starts with a literal lets the regex engine skip ahead to that
    character, which makes the shipped policy about ten times faster on long mail.
    """
    words = fold(normalize(phrase)).split()
    if not words:
        raise ValueError("empty phrase")
    body = r"\s+".join(re.escape(word) for word in words)
    if _ASCII_ALNUM.match(words[0][0]):
        first = re.escape(words[0][0])
        body = first + r"(?<![a-z0-9].)" + body[len(first) :]
    if _ASCII_ALNUM.match(words[-1][-1]):
        body += AFTER
    return body


@dataclass(frozen=True)
class Matcher:
    """Phrases (one pattern, longest first) and each regex (one pattern each).

    Phrases are matched in lower case against the folded text; regexes are case-insensitive.
    Regexes are kept apart so that at any position every one of them is tried: in one alternation
    "偶尔" would win over the longer '(偶尔|间歇性?)中断' listed after it.

    Given `found` (where the needles of `anchors` occur, from a `needles.Index`), a pattern whose
    needles are absent is skipped and a phrase pattern is only tried where a first word occurs;
    the matches are the same as without.
    """

    patterns: tuple[re.Pattern[str], ...]
    anchors: tuple[needles.Anchor | None, ...] = ()  # one per pattern, when known
    # The phrase pattern's alternatives (patterns[0], when there are phrases), in its order: the
    # needle of each phrase's first word, and the phrase's regex.
    phrase_parts: tuple[tuple[str, str], ...] = ()
    _parts: dict[frozenset[str], re.Pattern[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @functools.cached_property
    def all_needles(self) -> frozenset[str] | None:
        """Every pattern's needles, when every pattern has some: none of them found, no match."""
        if not self.anchors or None in self.anchors:
            return None
        return frozenset().union(*(anchor.needles for anchor in self.anchors if anchor))

    def _plan(self, found: needles.Occurrences | None) -> list[tuple[re.Pattern[str], Tries | None]]:
        """Each pattern worth running, with the places a phrase pattern may start (and what to try
        there), or None to run it over the whole text. A pattern whose needles are absent cannot
        match and is left out."""
        if found is None or not self.anchors:
            return [(regex, None) for regex in self.patterns]
        if self.all_needles is not None and self.all_needles.isdisjoint(found):
            return []
        plan: list[tuple[re.Pattern[str], Tries | None]] = []
        for i, (regex, anchor) in enumerate(zip(self.patterns, self.anchors, strict=True)):
            if anchor is None:
                plan.append((regex, None))
            elif anchor.starts:
                if tries := self._tries(i, regex, anchor, found):
                    plan.append((regex, tries))
            elif anchor.is_possible(found):
                plan.append((regex, None))
        return plan

    def _tries(self, i: int, regex: re.Pattern[str], anchor: needles.Anchor, found: needles.Occurrences) -> Tries:
        """Where the pattern may match, and the part of it to try there: only the phrases whose first
        word is found there can match, and in the pattern's order they match as the whole would."""
        present = anchor.needles.intersection(found)
        if i != 0 or not self.phrase_parts:
            return [(start, regex) for start in anchor.starts_in(found)]
        if len(present) == 1:
            part = self._part(present)
            return [(start, part) for start in found[next(iter(present))]]
        at: dict[int, list[str]] = {}
        for needle in present:
            for start in found[needle]:
                at.setdefault(start, []).append(needle)
        return [(start, self._part(frozenset(there))) for start, there in sorted(at.items())]

    def _part(self, first_words: frozenset[str]) -> re.Pattern[str]:
        part = self._parts.get(first_words)
        if part is None:
            sources = (source for needle, source in self.phrase_parts if needle in first_words)
            part = self._parts[first_words] = re.compile("|".join(sources))
        return part

    def spans(self, folded: str, found: needles.Occurrences | None = None) -> list[tuple[int, int]]:
        """(start, end) of every match of every pattern (they may overlap), as `finditer` finds them."""
        spans: list[tuple[int, int]] = []
        for regex, tries in self._plan(found):
            if tries is None:
                spans.extend(match.span() for match in regex.finditer(folded) if match.end() > match.start())
                continue
            end = 0  # phrases never match empty, so finditer goes on from the end of each match
            for start, part in tries:
                if start >= end and (match := part.match(folded, start)):
                    end = match.end()
                    spans.append((start, end))
        return spans

    def finditer(self, haystack: Haystack, found: needles.Occurrences | None = None) -> Iterator[Found]:
        """Every match of every pattern (they may overlap)."""
        for start, end in self.spans(haystack.folded, found):
            yield Found(start, end, haystack.shown[start:end])

    def search(self, haystack: Haystack, found: needles.Occurrences | None = None) -> Found | None:
        """The first match in the text; the longest of those starting there."""
        folded = haystack.folded
        spans = []
        for regex, tries in self._plan(found):
            if tries is None:
                match = regex.search(folded)
            else:
                match = next(filter(None, (part.match(folded, start) for start, part in tries)), None)
            if match and match.end() > match.start():
                spans.append(match.span())
        if not spans:
            return None
        start, end = min(spans, key=lambda span: (span[0], -span[1]))
        return Found(start, end, haystack.shown[start:end])


Tries = list[tuple[int, re.Pattern[str]]]  # a place, and the pattern to match there


def compile_any(phrases: Iterable[str] = (), regexes: Iterable[str] = (), *, where: str) -> Matcher:
    """A matcher for any of the phrases or regexes; `where` names the policy key in errors."""
    return _compile_any(tuple(phrases), tuple(regexes), where)


@functools.lru_cache(maxsize=512)  # every Runtime compiles the same policy: once is enough
def _compile_any(phrases: tuple[str, ...], regexes: tuple[str, ...], where: str) -> Matcher:
    compiled: list[re.Pattern[str]] = []
    anchors: list[needles.Anchor | None] = []
    parts: tuple[tuple[str, str], ...] = ()
    try:
        unique = sorted({fold(normalize(phrase)) for phrase in phrases}, key=len, reverse=True)
        if unique:
            sources = [phrase_regex(phrase) for phrase in unique]
            compiled.append(re.compile("|".join(sources)))
            anchors.append(needles.phrase_anchor(phrase.split()[0] for phrase in unique))
            parts = tuple(zip((needles.phrase_needle(phrase.split()[0]) for phrase in unique), sources, strict=True))
        for regex in regexes:
            compiled.append(re.compile(normalize(regex), re.IGNORECASE))
            anchors.append(needles.regex_anchor(normalize(regex), re.IGNORECASE))
        if not compiled:
            raise ValueError("no phrases and no regex")
    except (re.error, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"policy {where}: {exc}") from exc
    return Matcher(tuple(compiled), tuple(anchors), parts)


def section(policy: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The policy table `name`, or a ConfigError saying it is missing."""
    table = policy.get(name)
    if not isinstance(table, Mapping):
        raise ConfigError(f"policy [{name}] is missing or not a table")
    return table


def string_list(table: Mapping[str, Any], key: str, *, where: str) -> tuple[str, ...]:
    """A list of strings from the policy (absent = empty), or a ConfigError naming the key."""
    value = table.get(key, ())
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"policy {where}.{key}: expected a list of strings")
    return tuple(value)


@dataclass(frozen=True)
class NamedPattern:
    """A named rule of the policy: phrases and regexes compiled into one pattern."""

    name: str
    matcher: Matcher

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, Any], *, where: str) -> NamedPattern:
        if not isinstance(table, Mapping):
            raise ConfigError(f"policy {where}: expected a table")
        phrases = string_list(table, "phrases", where=where)
        regexes = string_list(table, "regex", where=where)
        return cls(name, compile_any(phrases, regexes, where=where))
