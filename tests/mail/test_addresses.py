"""Addresses, Message-IDs, Return-Path and Date from raw header values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.mail import addresses


def _raw(text: str, charset: str = "gbk") -> str:
    return text.encode(charset).decode("ascii", "surrogateescape")


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("User@Example.COM", [("", "user@example.com")]),
        ("Zhang San <ZS@163.com>", [("Zhang San", "zs@163.com")]),
        ('"Zhang, San" <zs@163.com>', [("Zhang, San", "zs@163.com")]),
        ("=?gbk?B?1cXI/Q==?= <zs@163.com>", [("张三", "zs@163.com")]),
        ('"=?gbk?B?1cXI/Q==?=" <zs@163.com>', [("张三", "zs@163.com")]),
        (f"{_raw('张三')} <zs@163.com>", [("张三", "zs@163.com")]),
        ("a@b.cn, =?utf-8?B?5p2O5Zub?= <li@c.cn>", [("", "a@b.cn"), ("李四", "li@c.cn")]),
        ("zs@163.com (张三)", [("张三", "zs@163.com")]),
        ("undisclosed-recipients:;", []),
        ("", []),
        (None, []),
    ],
)
def test_mailboxes(value: str | None, found: list[tuple[str, str]]) -> None:
    assert addresses.mailboxes(value)[0] == found


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("<abc@example.cn>", ("abc@example.cn",)),
        ("  <abc@example.cn> (comment)", ("abc@example.cn",)),
        ("<a@x> <b@y>\r\n\t<a@x>", ("a@x", "b@y")),
        ("Your message of Monday <ack.T-1@intake.example>", ("ack.T-1@intake.example",)),
        ("<folded\r\n @example.cn>", ("folded@example.cn",)),
        ("bare-id@example.cn", ("bare-id@example.cn",)),
        ("no id here", ()),
        (None, ()),
    ],
)
def test_message_ids(value: str | None, ids: tuple[str, ...]) -> None:
    assert addresses.message_ids(value) == ids


@pytest.mark.parametrize(
    ("value", "path"),
    [(None, None), ("<>", ""), (" < > ", ""), ("<Bounce@Example.CN>", "bounce@example.cn"), ("a@b.cn", "a@b.cn")],
)
def test_return_path(value: str | None, path: str | None) -> None:
    assert addresses.return_path(value) == path


@pytest.mark.parametrize(
    ("value", "date"),
    [
        ("Mon, 06 Jan 2025 09:30:00 +0800", datetime(2025, 1, 6, 1, 30, tzinfo=UTC)),
        ("6 Jan 2025 09:30:00 -0000", datetime(2025, 1, 6, 9, 30, tzinfo=UTC)),
        ("Mon, 06 Jan 2025 09:30:00 GMT", datetime(2025, 1, 6, 9, 30, tzinfo=UTC)),
        ("yesterday", None),
        ("Mon, 32 Jan 2025 09:30:00 +0800", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(value: str | None, date: datetime | None) -> None:
    assert addresses.parse_date(value) == date
