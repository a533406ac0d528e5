"""Needles: plain strings that every match of a pattern contains, all found in one pass over the text.

Grading runs some twenty patterns over each mail, and most of them cannot match it at all: a Chinese mail
has no "outage", an English one no "宕机". Each pattern therefore carries an `Anchor`, the literal
strings one of which every match must contain, worked out once at compile time; one combined search
per mail (`Index.find`) says where each needle occurs, and a pattern whose needles are all absent is
skipped without running it. A phrase list's needles are the first words of its phrases, and every match
starts where one occurs, so the phrase pattern is only tried at those places (`Anchor.starts`).

The answers stay exactly those of running every pattern over the whole text: a needle is only ever a
string the pattern's syntax forces into each match, and anything the analysis does not understand
gives no anchor, so that pattern always runs. The text is searched after ASCII case folding, as the
patterns are; a case-insensitive regex would also match "ı", "İ", "ſ" or the Kelvin sign for an ASCII
letter, so a text holding one of those gets no needle search at all (`Index.find` returns None).
"""

from __future__ import annotations

import collections
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

try:  # the parser behind re.compile; without it (another Python), regexes simply get no anchor
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    sre_parse = None

# Characters other than A-Z/a-z that a case-insensitive regex matches for an ASCII letter
# (tests/triage/test_needles.py checks the list against every code point).
ASCII_TWINS = "\u0130\u0131\u017f\u212a"
_TWIN = re.compile(f"[{ASCII_TWINS}]")
_SET_LIMIT = 64  # more alternative strings than this and a part of a regex counts as unknown

WORD = "\x00"  # marks a needle that counts only where no ASCII letter or digit comes before it
_ALNUM = re.compile("[A-Za-z0-9]")

Occurrences = dict[str, list[int]]  # needle -> where it starts in the folded text, ascending


@dataclass(frozen=True)
class Anchor:
    needles: frozenset[str]
    starts: bool  # True: every match starts where a needle starts; False: it only contains one

    def is_possible(self, found: Occurrences) -> bool:
        return not self.needles.isdisjoint(found)

    def starts_in(self, found: Occurrences) -> list[int]:
        """Where a match may start, ascending (for `starts` anchors)."""
        present = self.needles.intersection(found)
        if len(present) == 1:
            return found[next(iter(present))]  # one needle's places are sorted already
        places: set[int] = set()
        for needle in present:
            places.update(found[needle])
        return sorted(places)


def phrase_anchor(first_words: Iterable[str]) -> Anchor:
    """The anchor of a phrase list, from each phrase's first word (folded, as matched).

    A phrase that starts with an ASCII letter or digit only matches at a word edge, so its first
    word is only looked for there: "is" in "this" is no place for "is down" to start.
    """
    return Anchor(frozenset(map(phrase_needle, first_words)), starts=True)


def phrase_needle(first_word: str) -> str:
    """The needle of a phrase's first word."""
    return WORD + first_word if _ALNUM.match(first_word) else first_word


def regex_anchor(regex: str, flags: int = 0) -> Anchor | None:
    """Literal strings every match of `regex` contains, or None when the regex forces none."""
    if sre_parse is None:  # pragma: no cover
        return None
    try:
        parsed = sre_parse.parse(regex, flags)
        _, required = _sequence(list(parsed), parsed.state.flags)
    except (re.error, TypeError, ValueError, AttributeError, IndexError):  # pragma: no cover
        return None
    if not required:
        return None
    return Anchor(frozenset(_minimal(required)), starts=False)


@dataclass(frozen=True)
class _Group:
    """Needles found by one regex whose one group holds the longest needle starting at a place.

    Each match consumes the needle's first character, from a class the regex engine can skip ahead
    to, and captures the needle from there (the lookbehind steps back over that character), so every
    place is tried and no needle hides another. Needles at word edges also need no ASCII letter or
    digit before them; in ASCII text, where most characters start some needle, the match consumes
    the character before the word instead (`after_break`, searched with a space in front).
    """

    regex: re.Pattern[str]
    prefixes: dict[str, tuple[str, ...]]  # longest needle at a place -> every needle found there
    after_break: re.Pattern[str] | None = None

    @classmethod
    def of(cls, keys: list[str], word_start: bool) -> _Group:
        words = {key[1:] if word_start else key: key for key in keys}
        prefixes = {w: tuple(words[w[:end]] for end in range(len(w), 0, -1) if w[:end] in words) for w in words}
        first = "".join(sorted({re.escape(word[0]) for word in words}))
        trie = _trie_regex(_trie(words))
        if not word_start:
            return cls(re.compile(f"[{first}](?<=(?=({trie}))(?s:.))"), prefixes)
        return cls(
            re.compile(f"[{first}](?<![a-z0-9].)(?<=(?=({trie}))(?s:.))"),
            prefixes,
            re.compile(f"[\\x00-\\x2f\\x3a-\\x60\\x7b-\\U0010ffff](?=({trie}))"),  # [^a-z0-9], spelled out
        )

    def find(self, folded: str, found: collections.defaultdict[str, list[int]]) -> None:
        prefixes = self.prefixes
        if self.after_break is not None and folded.isascii():
            # " " + folded: the match at i consumes folded[i - 1], and the word starts at i.
            hits = [(match.group(1), match.start()) for match in self.after_break.finditer(" " + folded)]
        else:
            hits = [(match.group(1), match.start()) for match in self.regex.finditer(folded)]
        for needle, start in hits:
            for key in prefixes[needle]:
                found[key].append(start)


@dataclass(frozen=True, eq=False)  # hashed by identity, for the cache of `find`
class Index:
    """The needles of a set of anchors, in three searches: needles at word edges, other needles that
    start with an ASCII character, the rest; a search skips text that holds none of its first characters."""

    groups: tuple[_Group, ...]

    @classmethod
    def of(cls, anchors: Iterable[Anchor | None]) -> Index:
        return _index(frozenset(anchor for anchor in anchors if anchor))

    @classmethod
    def _of(cls, anchors: frozenset[Anchor]) -> Index:
        keys = {key for anchor in anchors for key in anchor.needles}
        word = sorted(key for key in keys if key.startswith(WORD) and len(key) > 1)
        ascii_first = sorted(key for key in keys - set(word) if key[:1].isascii())
        other = sorted(key for key in keys - set(word) if key and not key[:1].isascii())
        parts = ((word, True), (ascii_first, False), (other, False))
        return cls(tuple(_Group.of(part, word_start) for part, word_start in parts if part))

    @functools.lru_cache(maxsize=16)  # noqa: B019 - indexes live as long as the policy; grading and escalation share one
    def find(self, folded: str) -> Occurrences | None:
        """Where each needle occurs (absent needles are left out); None when needles cannot decide.

        The answer is shared between callers: read it, never change it.
        """
        if _TWIN.search(folded):
            return None
        found: collections.defaultdict[str, list[int]] = collections.defaultdict(list)
        for group in self.groups:
            group.find(folded, found)
        return dict(found)


@functools.lru_cache(maxsize=32)  # every Runtime builds the same policy's index: once is enough
def _index(anchors: frozenset[Anchor]) -> Index:
    return Index._of(anchors)


def _trie(words: Iterable[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a needle ends here
    return root


def _trie_regex(node: dict[str, Any]) -> str:
    """Longer needles first, so the regex reports the longest needle at a place."""
    alternatives = [re.escape(char) + _trie_regex(child) for char, child in node.items() if char]
    if "" in node:
        alternatives.append("")
    if len(alternatives) == 1:
        return alternatives[0]
    return f"(?:{'|'.join(alternatives)})"


# -- what a parsed regex forces into each match ---------------------------------------------------
# Each part of a regex gives (exact, required): `exact` is every string the part can match, when there
# are few; `required` is a set of strings one of which each match contains; None for "unknown".

Strings = frozenset[str] | None


def _sequence(items: list[tuple[object, object]], flags: int) -> tuple[Strings, Strings]:
    exact: Strings = frozenset(("",))
    run: Strings = frozenset(("",))  # the strings of the current stretch of known parts
    candidates: list[frozenset[str]] = []
    for op, value in items:
        part_exact, part_required = _item(op, value, flags)
        if part_required:
            candidates.append(part_required)
        exact = _product(exact, part_exact)
        longer = _product(run, part_exact)
        if longer is None:  # the stretch of known parts ends here
            candidates.append(run)
            run = part_exact if part_exact is not None else frozenset(("",))
        else:
            run = longer
    candidates.append(run)
    usable = [c for c in candidates if c and "" not in c]
    required = max(usable, key=lambda c: (min(map(len, c)), -len(c))) if usable else None
    return exact, required


def _item(op: object, value: object, flags: int) -> tuple[Strings, Strings]:
    name = str(op)
    if name == "LITERAL":
        char = _literal(chr(value), flags)  # type: ignore[arg-type]
        return (None, None) if char is None else (frozenset((char,)), frozenset((char,)))
    if name == "IN":
        return _char_set(value, flags)  # type: ignore[arg-type]
    if name in ("AT", "ASSERT", "ASSERT_NOT"):
        return frozenset(("",)), None  # zero width: only narrows where a match may be
    if name == "SUBPATTERN":
        _, add, remove, sub = value  # type: ignore[misc]
        return _sequence(list(sub), (flags | add) & ~remove)
    if name == "ATOMIC_GROUP":
        return _sequence(list(value), flags)  # type: ignore[call-overload]
    if name == "BRANCH":
        return _branch(value[1], flags)  # type: ignore[index]
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, sub = value  # type: ignore[misc]
        return _repeat(low, high, *_sequence(list(sub), flags))
    return None, None


def _branch(alternatives: list[object], flags: int) -> tuple[Strings, Strings]:
    parts = [_sequence(list(alternative), flags) for alternative in alternatives]  # type: ignore[call-overload]
    exacts = [exact for exact, _ in parts]
    exact = frozenset().union(*exacts) if all(e is not None for e in exacts) else None  # type: ignore[arg-type]
    requireds = [required for _, required in parts]
    required = frozenset().union(*requireds) if all(requireds) else None  # type: ignore[arg-type]
    return (exact if exact is not None and len(exact) <= _SET_LIMIT else None), required


def _repeat(low: int, high: int, exact: Strings, required: Strings) -> tuple[Strings, Strings]:
    if low == 0:
        required = None
    if exact is None or high > 2:
        return None, required
    repeated: Strings = frozenset()
    for times in range(low, high + 1):
        product: Strings = frozenset(("",))
        for _ in range(times):
            product = _product(product, exact)
        if product is None:
            return None, required
        repeated = repeated | product
    return repeated, required


def _char_set(items: list[tuple[object, object]], flags: int) -> tuple[Strings, Strings]:
    chars = set()
    for op, value in items:
        char = _literal(chr(value), flags) if str(op) == "LITERAL" else None  # type: ignore[arg-type]
        if char is None:
            return None, None  # ranges, categories, negation: too many strings
        chars.add(char)
    exact = frozenset(chars)
    return exact, exact


def _literal(char: str, flags: int) -> str | None:
    """The character as it appears in folded text, or None when case-insensitive matching blurs it."""
    if not flags & re.IGNORECASE:
        return char
    if char.isascii():
        return char.lower()
    return char if char.lower() == char == char.upper() else None  # no other case: matches itself only


def _product(left: Strings, right: Strings) -> Strings:
    if left is None or right is None or len(left) * len(right) > _SET_LIMIT:
        return None
    return frozenset(a + b for a in left for b in right)


def _minimal(needles: frozenset[str]) -> set[str]:
    """Without needles that contain another: if the longer one occurs, so does the shorter."""
    return {n for n in needles if not any(other != n and other in n for other in needles)}
