"""How every listing prints: a table on a terminal, one JSON array with --json (JSON Lines when streamed).

JSON keeps Chinese readable (ensure_ascii=False) and times as ISO 8601 with their offset.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, TextIO


def add_json_option(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The one shared option every listing has."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_default)


def width(text: str) -> int:
    """Display width: CJK characters take two columns on a terminal."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(value: Any, limit: int = 48) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    text = " ".join(str(value).split())
    while width(text) > limit:
        text = text[:-2] + "…"
    return text


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up at each call: whatever stdout is now (a pager, a test's capture)
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([width(column), *(width(r[i]) for r in cells)]) for i, column in enumerate(columns)]
    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - width(v)) for v, w in zip(values, widths, strict=True)).rstrip()
    print(line(columns), file=out)
    for row in cells:
        print(line(row), file=out)
    if not rows:
        print("(none)", file=out)


def _fixed(values: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(v + " " * (w - width(v)) for v, w in zip(values, widths, strict=True)).rstrip()


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    if as_json:
        print(dumps(list(rows)))
    else:
        table(rows, columns)


def emit_one(row: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(dumps(row))
        return
    for key, value in row.items():
        if isinstance(value, list | dict):
            continue
        print(f"{key:>18}: {_cell(value, 200)}")


def stream(rows: Iterable[dict[str, Any]], columns: Sequence[str], as_json: bool,
           widths: Sequence[int] | None = None) -> None:
    """Rows as each is ready (ingest, triage). With --json: one JSON array written one element per
    line, so a reader sees progress and a JSON parser sees one array whatever the count. With `widths`
    (one per column) the table has a header row and each cell is cut or padded to its column's width."""
    if not as_json:
        if widths is not None:
            print(_fixed(columns, widths), flush=True)
        for row in rows:
            if widths is None:
                print("  ".join(_cell(row.get(column), 40) for column in columns), flush=True)
            else:
                print(_fixed([_cell(row.get(c), w) for c, w in zip(columns, widths, strict=True)], widths), flush=True)
        return
    separator = "["
    for row in rows:
        print(separator + dumps(row), flush=True)
        separator = ","
    print("[]" if separator == "[" else "]", flush=True)
