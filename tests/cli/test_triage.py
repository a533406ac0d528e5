"""`intake triage`: a table with a header row, its rows printed as each message is read."""

from __future__ import annotations

from pipeline.cli import output
from tests.cli.conftest import Run, as_json
from tests.conftest import FIXTURES

ZH, EN = str(FIXTURES / "ingest" / "zh-outage.eml"), str(FIXTURES / "ingest" / "en-question.eml")


def starts(line: str, word: str) -> int:
    """The display column where `word` begins (CJK characters take two)."""
    return output.width(line[:line.index(word)])


def test_table_has_a_header_row_its_rows_line_up_under(cli: Run) -> None:
    code, out, _ = cli("triage", ZH, EN)
    header, chinese, english = out.splitlines()
    assert code == 0
    assert header.split() == ["source", "language", "severity", "automatic", "ticket_ref", "subject"]
    assert starts(chinese, "zh-Hans") == starts(english, "en ") == starts(header, "language")
    assert starts(chinese, "核心交换机") == starts(english, "How do I") == starts(header, "subject")


def test_json_has_no_header(cli: Run) -> None:
    out = cli("triage", ZH, EN, "--json")[1]
    assert [row["language"] for row in as_json(out)] == ["zh-Hans", "en"]
    assert out.splitlines()[0].startswith('[{"source": ')
