"""Line patterns searched over all lines of a text at once.

quotes.py cuts a mail body line by line: each step tries its patterns ("^\\s*On ... wrote:$",
"^\\s*Best regards,?$") on every line, one regex call per line and pattern. A `LineSearch` runs the
same patterns over all the lines in one search, to tell a step that has nothing to do, or which
lines it need look at.

The lines are joined with NUL in place of the line breaks, and a NUL in front (`joined`); a
pattern's "^" becomes that NUL, its "$" a look-ahead for the next one. No "\\s" matches NUL, so
"\\s*" stays on its line (over line breaks, "^\\s*" would run over every following blank line, from
every one of them: quadratic, or worse). "." and "\\W" may run over a NUL, as far as the pattern
lets them, and case is ignored: the search finds every line a pattern matches, and maybe others. It
says where to look; the pattern itself decides.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

LINE = "\x00"
_END_OF_LINE = r"(?=\x00|\Z)"
_OTHER_ANCHOR = re.compile(r"\\\$|(?<![\[\\])\^")  # an escaped "$", or a "^" that is no class negation


def joined(lines: Iterable[str]) -> str:
    """The text a LineSearch searches: each line after a NUL."""
    return LINE + LINE.join(lines)


def _line_pattern(pattern: re.Pattern[str] | str, at_line_start: bool) -> str:
    source = pattern if isinstance(pattern, str) else pattern.pattern
    if at_line_start:
        if not source.startswith("^"):
            raise ValueError(f"a line pattern must start with '^': {source!r}")
        source = LINE + source[1:]
    if _OTHER_ANCHOR.search(source):
        raise ValueError(f"a line pattern may only use '^' first and '$': {source!r}")
    return source.replace("$", _END_OF_LINE)


@dataclass(frozen=True)
class LineSearch:
    """Patterns tried with match at the start of each line, and patterns searched within each line."""

    at_line_start: re.Pattern[str] | None
    in_line: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, at_line_start: Iterable[re.Pattern[str] | str], in_line: Iterable[re.Pattern[str]] = ()) -> LineSearch:
        starts = [_line_pattern(pattern, at_line_start=True) for pattern in at_line_start]
        # Searched apart, with their own flags: a leading NUL, or a pattern's own first characters,
        # let the regex engine skip ahead, where one search for all would try every place.
        return cls(
            re.compile("|".join(f"(?:{source})" for source in starts), re.IGNORECASE) if starts else None,
            tuple(re.compile(_line_pattern(pattern, at_line_start=False), pattern.flags) for pattern in in_line),
        )

    def found(self, text: str) -> bool:
        """Whether a line of `text` (from `joined`) may match."""
        if self.at_line_start is not None and self.at_line_start.search(text):
            return True
        return any(pattern.search(text) for pattern in self.in_line)

    def lines(self, lines: list[str]) -> Iterator[int]:
        """Ascending, the index of every line a line-start pattern may match."""
        if self.at_line_start is None or not lines:
            return
        starts = list(itertools.accumulate((len(line) + 1 for line in lines[:-1]), initial=0))  # each NUL
        last = -1
        for match in self.at_line_start.finditer(joined(lines)):
            first = bisect.bisect_right(starts, match.start()) - 1
            final = bisect.bisect_right(starts, match.end() - 1) - 1  # a match may run over a NUL
            yield from range(max(first, last + 1), final + 1)
            last = max(last, final)
