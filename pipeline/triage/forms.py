"""Simplified or Traditional evidence in a run of Han characters, from zhconv's tables without zhconv.

language.form_counts asks what zhconv's conversions to zh-Hans, zh-TW and zh-HK change. Running
them costs about a millisecond per mail (pure Python, three passes), so `counts` gives the same
answer from tables built once from zhconv's own dictionaries (about 0.2 s, on the first Chinese
text):

* most characters convert on their own, so their evidence is set membership: `traditional` holds
  the characters zh-Hans changes, `simplified` those it keeps but zh-TW and zh-HK both change;
* zhconv also converts multi-character phrases, longest match first from the left, and a phrase
  may convert a character differently ("乾隆" keeps 乾, which alone becomes 干). A phrase can only
  start where two characters begin one of the phrases, which is rare (2-4% of places in service
  mail), so `counts` replays zhconv's matching only from there and corrects those characters;
* where a phrase changes length zhconv's outputs no longer line up with the input, and
  form_counts compares character by character instead; `counts` returns None for the one case
  it does not replay (lengths that change and cancel out), and the caller runs zhconv.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from dataclasses import dataclass

from zhconv import zhconv as zhconv_tables

LOCALES = ("zh-hans", "zh-tw", "zh-hk")
NOT_SIMPLIFIED_EVIDENCE = "晒"  # Cantonese "all" (唔該晒): a Hong Kong writer, not a Simplified one


@dataclass(frozen=True)
class Tables:
    conversions: tuple[dict[str, str], ...]  # zhconv's dictionary for each of LOCALES
    simplified: frozenset[str]
    traditional: frozenset[str]
    simplified_runs: _Runs  # the same sets, as patterns: counting runs costs less than counting characters
    traditional_runs: _Runs
    # Per locale: the first two characters of its Han phrases -> the longest phrase starting so.
    phrase_starts: tuple[dict[str, int], ...]
    any_phrase_start: frozenset[str]


@functools.cache
def tables(han_class: str) -> Tables:
    """Built once from zhconv's dictionaries; `han_class` is the character class of Han characters."""
    conversions = tuple(zhconv_tables.getdict(locale) for locale in LOCALES)
    hans, tw, hk = conversions
    chars = {key for conversion in conversions for key in conversion if len(key) == 1}
    traditional = frozenset(char for char in chars if hans.get(char, char) != char)
    simplified = frozenset(
        char
        for char in chars - traditional
        if tw.get(char, char) != char and hk.get(char, char) != char and char != NOT_SIMPLIFIED_EVIDENCE
    )
    all_han = re.compile(f"{han_class}+")
    # Phrases with other characters never match: the text holds Han characters only.
    phrases = [[key for key in conversion if len(key) > 1 and all_han.fullmatch(key)] for conversion in conversions]
    return Tables(
        conversions=conversions,
        simplified=simplified,
        traditional=traditional,
        simplified_runs=_Runs.of(simplified),
        traditional_runs=_Runs.of(traditional),
        phrase_starts=tuple(_longest_by_start(keys) for keys in phrases),
        any_phrase_start=frozenset(key[:2] for keys in phrases for key in keys),
    )


def _longest_by_start(phrases: list[str]) -> dict[str, int]:
    longest: dict[str, int] = {}
    for phrase in phrases:
        longest[phrase[:2]] = max(longest.get(phrase[:2], 0), len(phrase))
    return longest


_BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class _Runs:
    """A set of characters as two patterns: the regex engine looks up a class of BMP characters in a
    table, and can skip ahead to one, but walks a class of other characters one by one."""

    bmp: re.Pattern[str]
    beyond_bmp: re.Pattern[str]

    @classmethod
    def of(cls, chars: frozenset[str]) -> _Runs:
        def runs(selected: list[str]) -> re.Pattern[str]:
            return re.compile(f"[{''.join(sorted(map(re.escape, selected)))}]+" if selected else "(?!)")

        return cls(runs([c for c in chars if c <= "\uffff"]), runs([c for c in chars if c > "\uffff"]))

    def count(self, text: str, beyond_bmp: bool) -> int:
        """How many characters of `text` are in the set; `beyond_bmp`: whether the text has any such."""
        found = sum(map(len, self.bmp.findall(text)))
        return found + sum(map(len, self.beyond_bmp.findall(text))) if beyond_bmp else found


def counts(han: str, tables: Tables) -> tuple[int, int] | None:
    """(Simplified, Traditional) evidence in `han` (Han characters only), as language.form_counts
    defines it; None in the one case left to zhconv itself."""
    beyond_bmp = _BEYOND_BMP.search(han) is not None
    simplified = tables.simplified_runs.count(han, beyond_bmp)
    traditional = tables.traditional_runs.count(han, beyond_bmp)
    pairs = map(operator.add, han, itertools.islice(han, 1, None))
    starts = list(itertools.compress(itertools.count(), map(tables.any_phrase_start.__contains__, pairs)))
    if not starts:
        return simplified, traditional
    replayed = [
        _phrases(han, starts, conversion, phrase_starts)
        for conversion, phrase_starts in zip(tables.conversions, tables.phrase_starts, strict=True)
    ]
    if any(change for _, change, _ in replayed):
        return simplified, traditional  # form_counts compares character by character then
    if any(changed for _, _, changed in replayed):
        return None  # lengths changed and cancelled out: zhconv's outputs line up wrongly, replay them
    converted = [places for places, _, _ in replayed]
    for i in set().union(*converted):
        char = han[i]
        simplified -= char in tables.simplified
        traditional -= char in tables.traditional
        hans, tw, hk = (
            places.get(i) or table.get(char, char) for places, table in zip(converted, tables.conversions, strict=True)
        )
        if hans != char:
            traditional += 1
        elif tw != char and hk != char and char != NOT_SIMPLIFIED_EVIDENCE:
            simplified += 1
    return simplified, traditional


def _phrases(
    han: str, starts: list[int], conversion: dict[str, str], phrase_starts: dict[str, int]
) -> tuple[dict[int, str], int, bool]:
    """zhconv's matching (longest phrase first, from the left) replayed where a phrase may start:
    the converted character at each place inside a phrase, the change in length, and whether any
    phrase changed length."""
    places: dict[int, str] = {}
    change = 0
    changed = False
    end = 0  # zhconv goes on after the phrase it converted
    for i in starts:
        longest = phrase_starts.get(han[i : i + 2], 0) if i >= end else 0
        for size in range(min(longest, len(han) - i), 1, -1):
            output = conversion.get(han[i : i + size])
            if output is not None:
                if len(output) == size:
                    places.update(zip(range(i, i + size), output, strict=True))
                else:
                    change += len(output) - size
                    changed = True
                end = i + size
                break
    return places, change, changed
