"""parse_mail over the hand-written fixtures in fixtures/mail: one row per case Chinese mail brings."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline import errors
from pipeline.mail import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mail"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def attachments(mail: Any) -> list[tuple[str, str, bytes | str, str | None, bool]]:
    """Name, type, content (a SHA-256 prefix when longer than 64 bytes), Content-ID, inline."""
    return [
        (
            a.filename,
            a.content_type,
            a.content if len(a.content) <= 64 else hashlib.sha256(a.content).hexdigest()[:12],
            a.content_id,
            a.inline,
        )
        for a in mail.attachments
    ]


CASES: dict[str, dict[str, Any]] = {
    "gb2312-gbk-only.eml": {
        "subject": "账号无法登录（王喆）",
        "from_name": "朱镕基",
        "from_addr": "zhu@example.cn",
        "text": "朱镕基先生：您好—请查收·谢谢\n王喆、李堃、陈昇、赵玥的账号都无法登录。",
        "decoding": (),
    },
    "x-gbk-label.eml": {"text": "服务器宕机，请尽快处理。镕", "decoding": ()},
    "big5-hkscs.eml": {
        "subject": "系統故障",
        "text": "香港分公司嘅系統壞咗，唔該盡快派人嚟睇下㗎。聯絡人：陳喆、李堃。",
        "decoding": (),
    },
    "big5-euro.eml": {"text": "報價：€1200（含碁盤）", "decoding": ()},
    "gbk-labelled-utf8.eml": {
        "text": "您好，我们的数据库从昨晚开始无法连接，影响全部门店营业。",
        "decoding": ("part 0 (text/plain): labelled utf-8: decoded as gb18030",),
    },
    "no-charset-gbk.eml": {
        "text": "请问发票什么时候寄出？订单号20250106。",
        "decoding": ("part 0 (text/plain): no charset label: decoded as gb18030",),
    },
    "rfc2047-split-gbk.eml": {"subject": "您好我的订单有问题", "decoding": ()},
    "rfc2047-split-utf8.eml": {"subject": "Re: 您好我的订单有问题", "decoding": ()},
    "rfc2047-q-gb2312.eml": {"subject": "紧急：网络中断", "from_name": "李四", "decoding": ()},
    "raw-8bit-gbk-headers.eml": {
        "subject": "自动回复：发票问题",
        "from_name": "张三",
        "from_addr": "zhangsan@163.com",
        "text": "我正在休假，1月10日回来。",
        "decoding": (
            "from: 8-bit header decoded as gb18030, the message's charset",
            "subject: 8-bit header decoded as gb18030, the message's charset",
        ),
    },
    "rfc2231-gbk-filename.eml": {
        "text": "see attachments",
        "attachments": [
            ("发票_镕2024.pdf", "application/pdf", b"%PDF-1.4\n%\xc3\xa4\xc3\xbc\xc3\xb6\xc3\x9f\n", None, False),
            ("故障日志.txt", "text/plain", "日志内容".encode("gbk"), None, False),
        ],
        "decoding": (),
    },
    "rfc2047-quoted-filename.eml": {
        "text": "见附件",
        "attachments": [
            ("中文测试.docx", "application/octet-stream", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", None, False)
        ],
    },
    "traversal-filename.eml": {
        "text": "hi",
        "attachments": [("passwd", "text/plain", b"root:x:0:0:root:/root:/bin/bash", None, False)],
    },
    "outlook-html-inline-image.eml": {
        "subject": "交换机宕机",
        "from_name": "王喆",
        "message_id": "000001db6012$5e2c1a40$@example.cn",
        "text": "您好：\n\n我们的核心交换机 今天上午<10:00>宕机，截图如下：\n\n设备\t状态\nSW-01\t离线\n王喆\n技术部",
        "content_type": "multipart/related",
        "part_types": ("multipart/related", "text/html", "image/png"),
        "attachments": [("image001.png", "image/png", "62d7693d527c", "image001.png@01DB6012.5E2C1A40", True)],
        "decoding": (),
    },
    "qq-related-alternative.eml": {
        "from_name": "小王",
        "from_addr": "12345@qq.com",
        "text": "打印机卡纸，急！\n\n小王",
        "part_types": (
            "multipart/related",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "image/jpeg",
        ),
        "attachments": [
            ("part4.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01", "8D1E2A4F@qq.com", True)
        ],
    },
    "forward-rfc822.eml": {
        "subject": "转发：系统故障",
        "text": "请处理下面客户的问题。\n\n---------- Forwarded message ----------\nFrom: 客户 <customer@example.com>\n"
        "Date: Sun, 05 Jan 2025 20:00:00 +0800\nSubject: 系统故障\nTo: manager@example.cn\n\n整个系统无法访问。",
        "part_types": (
            "multipart/mixed",
            "text/plain",
            "message/rfc822",
            "multipart/mixed",
            "text/plain",
            "text/csv",
        ),
        "attachments": [("log.csv", "text/csv", b"time,event\r\n09:00,down", None, False)],
        "embedded_message_ids": ("fwd-inner@example.com",),
    },
    "winmail-tnef.eml": {
        "from_name": "刘工",
        "text": "各位好，\n附件是故障日志，请查收。",
        "part_types": ("multipart/mixed", "text/plain", "application/ms-tnef"),
        "attachments": [
            ("故障日志.txt", "text/plain", "2025-01-06 09:00 链路中断\r\n".encode(), None, False),
            ("REPORT~1.BIN", "application/octet-stream", "314e584e5245", None, False),
        ],
        "decoding": (),
        "defects": (),
    },
    "bounce-report.eml": {
        "return_path": "",
        "from_addr": "mailer-daemon@mx.example.cn",
        "content_type": "multipart/report",
        "part_types": (
            "multipart/report",
            "text/plain",
            "message/delivery-status",
            "message/rfc822",
            "text/plain",
        ),
        "embedded_message_ids": ("ack.T-20250106-0001@intake.example",),
        "text": "I'm sorry to have to inform you that your message could not\nbe delivered to one or more "
        "recipients.\n\n<nobody@example.cn>: host mx.example.cn said: 550 5.1.1 User unknown",
        "attachments": [
            ("part2.txt", "message/delivery-status", "a1dc1a6a9fac", None, False),
            ("part3.eml", "message/rfc822", "30b48248ca5c", None, False),
        ],
    },
    "bounce-headers-only.eml": {
        "return_path": "",
        "embedded_message_ids": ("ack.T-20250106-0002@intake.example",),
        "part_types": ("multipart/report", "text/plain", "message/delivery-status", "text/rfc822-headers"),
        "text": "Delivery has failed.",
    },
    "broken-mime.eml": {
        "text": "正\ufffd",
        "part_types": ("multipart/mixed", "text/plain", "application/octet-stream", "image/png"),
        "attachments": [
            ("blob.bin", "application/octet-stream", b"raw", None, False),
            ("part3.png", "image/png", b"\x89PNG\r\n\x1a\n", None, False),
        ],
        "decoding": ("part 1 (text/plain): no charset label: decoded as utf-8, replaced 1 undecodable byte sequences",),
        "defects": (
            "part 0: CloseBoundaryNotFoundDefect",
            "part 1: bad base64 padding",
            "part 2: unknown transfer encoding 'x-weird', kept as is",
            "part 3: bad base64 padding",
        ),
    },
    "mbox-no-content-type.eml": {
        "subject": "hello",
        "text": "你好，世界",
        "content_type": "text/plain",
        "in_reply_to": ("ack.T-1@intake.example",),
        "references": ("a@x", "b@y", "ack.T-1@intake.example"),
        "return_path": None,
        "date": None,
        "decoding": ("part 0 (text/plain): no charset label: decoded as utf-8",),
    },
}


@pytest.mark.parametrize(("name", "expected"), CASES.items(), ids=list(CASES))
def test_fixture(name: str, expected: dict[str, Any]) -> None:
    mail = parse.parse_mail(load(name))
    actual = {key: attachments(mail) if key == "attachments" else getattr(mail, key) for key in expected}
    assert actual == expected
    assert mail.size == len(load(name))


def test_header_fields_of_an_outlook_message() -> None:
    mail = parse.parse_mail(load("outlook-html-inline-image.eml"))
    assert mail.headers == (
        ("from", "王喆 <wangzhe@example.cn>"),
        ("date", "Mon, 06 Jan 2025 09:30:00 +0800"),
        ("to", "support@intake.example"),
        ("subject", "交换机宕机"),
        ("message-id", "<000001db6012$5e2c1a40$@example.cn>"),
        ("mime-version", "1.0"),
        ("x-mailer", "Microsoft Outlook 16.0"),
        ("content-type", 'multipart/related;\ttype="text/html";\tboundary="----=_NextPart_000_0001_01DB6012.5E2C1A40"'),
    )
    assert mail.header("X-Mailer") == "Microsoft Outlook 16.0"
    assert mail.date == datetime(2025, 1, 6, 1, 30, tzinfo=UTC)
    assert (mail.to, mail.cc, mail.reply_to, mail.return_path) == (("support@intake.example",), (), None, None)
    assert mail.html is not None and 'src="cid:image001.png@01DB6012.5E2C1A40"' in mail.html


def test_returned_message_is_kept_byte_exact() -> None:
    raw = load("bounce-report.eml")
    start = raw.index(b"Content-Type: message/rfc822\r\n\r\n") + len(b"Content-Type: message/rfc822\r\n\r\n")
    returned = raw[start : raw.index(b"\r\n--B0UNCE--")]
    mail = parse.parse_mail(raw)
    assert mail.attachments[1].content == returned


def test_address_headers() -> None:
    raw = (
        b"From: =?utf-8?B?5byg5LiJ?= <ZS@Example.CN>\r\n"
        b'To: a@x.cn, "B, Bee" <B@Y.CN>\r\nTo: c@z.cn\r\nCc: =?gbk?B?wO7LxA==?= <li@x.cn>\r\n'
        b"Reply-To: <Help@X.CN>\r\nReturn-Path: <Bounce@X.CN>\r\n\r\nbody\r\n"
    )
    mail = parse.parse_mail(raw)
    assert (mail.from_name, mail.from_addr) == ("张三", "zs@example.cn")
    assert mail.to == ("a@x.cn", "b@y.cn", "c@z.cn")
    assert mail.cc == ("li@x.cn",)
    assert (mail.reply_to, mail.return_path) == ("help@x.cn", "bounce@x.cn")
    assert mail.message_id is None


@pytest.mark.parametrize(
    ("raw", "limits", "reason"),
    [
        (load("deep-nesting.eml"), {}, "MIME nesting deeper than 25 levels"),
        (load("never-ending-headers.eml"), {}, "header section does not end within 131072 bytes"),
        (load("gb2312-gbk-only.eml"), {"max_bytes": 100}, "message is 379 bytes, over the limit of 100"),
        (b"x" * (25 * 1024 * 1024 + 1), {}, "message is 26214401 bytes, over the limit of 26214400"),
        (load("forward-rfc822.eml"), {"max_depth": 2}, "MIME nesting deeper than 2 levels"),
        (b"Subject: " + b"x" * 200_000 + b"\r\n\r\nbody", {}, "header section does not end within 131072 bytes"),
    ],
    ids=["deep", "endless-headers", "max-bytes", "oversize", "max-depth", "huge-header"],
)
def test_unprocessable(raw: bytes, limits: dict[str, int], reason: str) -> None:
    with pytest.raises(errors.UnprocessableMail) as raised:
        parse.parse_mail(raw, **limits)
    assert str(raised.value) == reason


def test_deep_nesting_within_a_raised_limit() -> None:
    mail = parse.parse_mail(load("deep-nesting.eml"), max_depth=40)
    assert mail.text == "bottom"
    assert len(mail.part_types) == 32


@pytest.mark.parametrize(
    ("raw", "subject", "text", "defects"),
    [
        (b"", "", "", ()),
        (b"Subject: only headers\r\nFrom: a@b.cn", "only headers", "", ()),
        (
            b"no headers at all\r\njust text",
            "",
            "no headers at all\njust text",
            ("part 0: MissingHeaderBodySeparatorDefect",),
        ),
        (b"abc\n" * 60_000, "", "abc\n" * 59_999 + "abc", ("part 0: MissingHeaderBodySeparatorDefect",)),
        (b"\r\n  \t\r\nSubject: after blank lines\r\n\r\nbody", "after blank lines", "body", ()),
        (b"\r\nJust a title\r\n\r\nand text", "", "Just a title\n\nand text", ()),
        (b"Subject: cr only\rFrom: a@b\r\rbody\r", "cr only", "body", ()),
        (
            b"Subject: no boundary\r\nContent-Type: multipart/mixed\r\n\r\nplain words",
            "no boundary",
            "plain words",
            ("part 0: NoBoundaryInMultipartDefect", "part 0: MultipartInvariantViolationDefect"),
        ),
        (b"Subject: bad date\r\nDate: yesterday\r\n\r\nx", "bad date", "x", ("unreadable Date header",)),
    ],
    ids=[
        "empty",
        "headers-only",
        "headerless",
        "headerless-big",
        "leading-blank",
        "title-not-header",
        "cr-only",
        "no-boundary",
        "bad-date",
    ],
)
def test_odd_shapes_still_parse(raw: bytes, subject: str, text: str, defects: tuple[str, ...]) -> None:
    mail = parse.parse_mail(raw)
    assert (mail.subject, mail.text, mail.defects) == (subject, text, defects)


def test_base64_encoded_rfc822_is_reparsed() -> None:
    inner = b"Subject: inner\r\nMessage-ID: <inner@x>\r\n\r\ninner body\r\n"
    import base64

    raw = (
        b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\n"
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner)
        + b"--Z--\r\n"
    )
    mail = parse.parse_mail(raw)
    assert mail.embedded_message_ids == ("inner@x",)
    assert mail.text == "---------- Forwarded message ----------\nSubject: inner\n\ninner body"


def test_empty_plain_alternative_falls_back_to_html() -> None:
    raw = (
        b"Content-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\nContent-Type: text/plain\r\n\r\n\r\n"
        b"--A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>\xe4\xbd\xa0\xe5\xa5\xbd</p>\r\n--A--\r\n"
    )
    mail = parse.parse_mail(raw)
    assert (mail.text, mail.html) == ("你好", "<p>你好</p>")


def test_rfc2231_charset_on_an_8bit_part_next_to_an_8bit_header() -> None:
    # compat32's get_payload() decodes such a leaf with the tuple charset*= gives and raises TypeError
    raw = (
        b"Subject: \xd6\xd0\xce\xc4\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\n"
        b"Content-Type: text/plain; charset*=gbk''\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"\xd6\xd0\xce\xc4\r\n--A--\r\n"
    )
    mail = parse.parse_mail(raw)
    assert (mail.subject, mail.text) == ("中文", "中文")
    assert mail.decoding == (
        "subject: 8-bit header decoded as gb18030",
        "part 1 (text/plain): no charset label: decoded as gb18030",
    )
