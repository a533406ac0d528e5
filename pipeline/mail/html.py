"""HTML mail (Outlook, Foxmail, QQ) turned into plain readable text.

Our own small converter rather than html2text: html2text writes Markdown (``**bold**``, ``\\-``,
``[text](url)``), and what triage and agents need is the words with sensible line breaks and no
markup at all. Blocks become lines, ``<br>`` a line break, table cells are separated by a tab;
``<head>``, ``<style>``, ``<script>`` and comments (Outlook's ``<!--[if mso]>``) are dropped.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_BLOCK = frozenset(
    [
        "address", "article", "aside", "blockquote", "caption", "center", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "tfoot",
        "thead", "tr", "ul",
    ]
)  # fmt: skip
_HIDDEN = frozenset(["head", "script", "style", "title", "template", "xml", "noscript", "object"])
_SPACE = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^>]*>")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)


class _Text(HTMLParser):
    """Collects text pieces; a block boundary ends the line once, an explicit <br> always does."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0
        self.pre = 0
        self.at_line_start = True
        self.written = 0  # text pieces so far, to tell an empty <p> (Outlook's blank line)
        self.paragraphs: list[int] = []

    def newline(self, force: bool = False) -> None:
        if force or not self.at_line_start:
            self.pieces.append("\n")
        self.at_line_start = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.newline(force=True)
        elif tag in _BLOCK:
            self.newline()
            if tag == "p":
                self.paragraphs.append(self.written)
            elif tag == "li":
                self.write("- ")
            elif tag == "pre":
                self.pre += 1
        elif tag in ("td", "th") and not self.at_line_start:
            self.pieces.append("\t")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):  # <p/> or <div/> hold nothing and end nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "p" and self.paragraphs and self.paragraphs.pop() == self.written:
            self.newline(force=True)  # <p>&nbsp;</p> is how Outlook writes an empty line
        elif tag in _BLOCK:
            self.newline()
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.pre:
            self.write(data.replace("\r\n", "\n").replace("\r", "\n"))
            return
        text = _SPACE.sub(" ", data)
        if self.at_line_start:
            text = text.lstrip(" ")
        if text:
            self.write(text)

    def write(self, text: str) -> None:
        self.pieces.append(text)
        self.written += 1
        self.at_line_start = text.endswith("\n")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: no tags, entities resolved, at most one blank line in a row."""
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
        raw = "".join(parser.pieces)
    except AssertionError:  # _markupbase asserts on some broken declarations ("<![\x00")
        raw = _SPACE.sub(" ", unescape(_TAG.sub(" ", html))).strip()
    lines = [_line(line) for line in raw.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def _line(line: str) -> str:
    if "\t" in line:  # table cells: one tab between non-empty cells
        return "\t".join(cell.strip() for cell in line.split("\t") if cell.strip())
    return line.rstrip()


def meta_charset(data: bytes) -> str | None:
    """The charset an HTML document declares in its first kilobytes (<meta charset=...>), if any."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None
