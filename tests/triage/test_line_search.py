"""LineSearch: one search over all lines finds every line a line pattern matches; quotes' steps skip by it."""

from __future__ import annotations

import random
import re

import pytest

from pipeline.triage import line_search, quotes

LINES = [
    "",
    " ",
    "\t",
    "Hello,",
    "Best regards,",
    "  thanks!! ",
    "谢谢！",
    "此致 敬礼",
    "From: Service Desk",
    "发件人: 技术支持",
    "Sent: Monday",
    "On Mon, Jan 6, 2025 Support <s@v.example> wrote:",
    "张三 写道：",
    "-----Original Message-----",
    "> quoted",
    "＞ quoted",
    "--",
    "Sent from my iPhone",
    "Disclaimer:",
    "This email is confidential",
    "x" * 90,
    "ſent from my iPhone",  # case-insensitive patterns match "ſ" for "s"
]
PATTERNS = [
    quotes._WROTE,
    quotes._SEPARATOR_HEADER,
    quotes._HEADER_FROM,
    quotes._HEADER_SENT,
    quotes._FOOTER_HEADING,
    quotes._FOOTER_OPENING,
    quotes._SIG_DELIMITER,
    quotes._DEVICE_LINE,
    quotes._SIGN_OFF,
]


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda pattern: pattern.pattern[:30])
def test_every_matching_line_is_found(pattern: re.Pattern[str]) -> None:
    search = line_search.LineSearch.of((pattern,))
    rng = random.Random(2)
    for _ in range(200):
        lines = [rng.choice(LINES) for _ in range(rng.randint(1, 10))]
        matching = [i for i, line in enumerate(lines) if pattern.match(line)]
        assert set(matching) <= set(search.lines(lines)), lines
        assert search.found(line_search.joined(lines)) or not matching, lines


def test_in_line_patterns_are_searched_within_each_line() -> None:
    search = line_search.LineSearch.of((), (quotes._WROTE_ZH,))
    assert search.found(line_search.joined(["好的。", "张三 写道：", "请重启。"]))
    assert not search.found(line_search.joined(["张三 写道：请重启。"]))  # "$": the line must end there


def test_a_line_search_stays_on_its_line() -> None:
    """Over line breaks "\\s*" would join "from" and the ":" two lines below."""
    search = line_search.LineSearch.of((quotes._HEADER_FROM,))
    assert not search.found(line_search.joined(["from", "", ": x"]))
    assert search.found(line_search.joined(["x", "  From :"]))


@pytest.mark.parametrize("pattern", ["no anchor", "^a|^b", "^a\\$"])
def test_patterns_it_cannot_translate(pattern: str) -> None:
    with pytest.raises(ValueError):
        line_search.LineSearch.of((pattern,))


def test_long_runs_of_spaces_take_linear_time() -> None:
    """Such lines once took seconds: "\\s*[*>]*\\s*" split the run every way before giving up."""
    spaces = " " * 20000
    text = f"hello\n{spaces}\nfrom{spaces}\nThanks{spaces}\n" + "world\n" * 10
    assert quotes.customer_words(text) == "hello\n\nfrom\nThanks\n" + "\n".join(["world"] * 10)
