"""The acknowledgement: its HTML part says what its text part says, the hotline with our number or not at all,
and mail older than the scheduler's catch_up gets none."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.errors import ConfigError
from pipeline.records import IngestResult, RawInput
from pipeline.runtime import Runtime
from pipeline.store import models
from pipeline.tickets import acks, ingest
from tests.conftest import FIXTURES, make_settings
from tests.mailmaker import make_mail

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
SAMPLES = {"zh-Hans": "zh-outage.eml", "zh-Hant": "zh-hant-degraded.eml", "en": "en-question.eml"}
OpenRuntime = Callable[..., Runtime]
AUTOMATIC = {"zh-Hans": "此邮件为系统自动回复。", "zh-Hant": "此郵件為系統自動回覆。",
             "en": "This is an automatic reply."}
HOTLINE_LINE = {"zh-Hans": "服务热线", "zh-Hant": "服務專線", "en": "hotline"}


class Blocks(HTMLParser):
    """The text of each paragraph and table row of an HTML body, and any text outside them."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self.stray: list[str] = []
        self._open: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_body = self._in_body or tag == "body"
        if tag in ("p", "tr"):
            self._open = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "tr") and self._open is not None:
            self.blocks.append("".join(self._open))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)
        elif self._in_body and data.strip():
            self.stray.append(data)


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def html_blocks(html: str) -> Blocks:
    parser = Blocks()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture
def runtime_with(tmp_path: Path) -> Iterator[OpenRuntime]:
    opened: list[Runtime] = []

    def open_runtime(**overrides: object) -> Runtime:  # SQLite: this is about what the ack says
        rt = Runtime.open(make_settings(tmp_path / str(len(opened)), **overrides))
        rt.clock = lambda: NOW
        opened.append(rt)
        return rt

    yield open_runtime
    for rt in opened:
        rt.close()


def ack_of(rt: Runtime, raw: bytes, received_at: datetime = NOW) -> tuple[IngestResult, models.Job | None]:
    result, = ingest.ingest(rt, [RawInput(raw=raw, source="test", received_at=received_at)])
    with rt.sessions() as session:
        job = session.scalars(select(models.Job).where(models.Job.kind == "ack",
                                                       models.Job.ticket_id == result.ticket_id)).first()
    return result, job


@pytest.mark.parametrize("language", list(SAMPLES))
@pytest.mark.parametrize(("number", "shown"), [("+862155550100", "+86 21 5555 0100"), (None, None)])
def test_html_part_says_what_the_text_part_says(runtime_with: OpenRuntime, language: str, number: str | None,
                                                shown: str | None) -> None:
    rt = runtime_with(twilio_number=number) if number else runtime_with()
    result, ack = ack_of(rt, (FIXTURES / "ingest" / SAMPLES[language]).read_bytes())
    assert ack is not None and ack.language == language and ack.body_html and ack.body_text
    parsed = html_blocks(ack.body_html)
    assert parsed.stray == []
    assert [block for block in parsed.blocks if not block.strip()] == []  # no empty <p></p>
    text_lines = [line for line in ack.body_text.splitlines() if line.strip()]
    assert [squeezed(block) for block in parsed.blocks] == [squeezed(line) for line in text_lines]
    # the facts themselves, so that both parts cannot agree on leaving one out
    assert parsed.blocks[0].startswith(("王工", "陳先生", "Dear Ann Lee")), parsed.blocks[0]
    for fact in (result.ticket or "-", "SR-", "(UTC+08:00)"):
        assert fact in ack.body_text and fact in ack.body_html
    hotline = [line for line in text_lines if HOTLINE_LINE[language] in line]
    if shown:
        assert len(hotline) == 1 and hotline[0].rstrip("。.").endswith(shown)
    else:
        assert hotline == [] and HOTLINE_LINE[language] not in ack.body_html  # no dangling "call our hotline"
    assert AUTOMATIC[language] in text_lines and AUTOMATIC[language] in parsed.blocks


def test_a_number_that_does_not_parse_is_shown_as_configured(runtime_with: OpenRuntime) -> None:
    rt = runtime_with(twilio_number="400-800-1234")
    _, ack = ack_of(rt, make_mail("Fan alarm", "Fan 2 alarm."))
    assert ack is not None and "hotline 400-800-1234." in (ack.body_text or "")


def test_mail_older_than_catch_up_gets_no_ack(runtime_with: OpenRuntime) -> None:
    rt = runtime_with()
    old, old_ack = ack_of(rt, make_mail("Disk failure", "Disk 3 failed."), NOW - timedelta(days=3, minutes=1))
    assert old.status == "created" and old_ack is None
    assert old.reason == "not acknowledged: arrived 2026-11-13 09:59 (UTC+08:00), more than 3 days ago"
    recent, recent_ack = ack_of(rt, make_mail("Fan failure", "Fan 1 failed."), NOW - timedelta(days=2, hours=23))
    assert recent.reason is None and recent_ack is not None


def test_catch_up_comes_from_the_scheduler_policy(runtime_with: OpenRuntime) -> None:
    rt = runtime_with(policy={"scheduler": {"catch_up": "12h"}})
    old, ack = ack_of(rt, make_mail("Disk failure", "Disk 3 failed."), NOW - timedelta(hours=13))
    assert ack is None and (old.reason or "").endswith("more than 12 hours ago")
    with pytest.raises(ConfigError, match=r"^scheduler\.catch_up: "):
        acks.catch_up_of({"scheduler": {"catch_up": "2bd"}})
