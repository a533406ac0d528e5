"""Charset labels, body bytes and header words: each row is one thing Chinese mail really does."""

from __future__ import annotations

import base64

import pytest

from pipeline.mail import charsets, decode


def _b(text: str, charset: str = "gbk") -> str:
    return base64.b64encode(text.encode(charset)).decode()


GBK_SENTENCE = "数据库连不上了，请帮忙".encode("gbk")


@pytest.mark.parametrize(
    ("data", "label", "text", "codec", "fallback"),
    [
        # GB labels: all decode as gb18030, GBK-only characters and gbk punctuation included
        ("朱镕基先生：您好—请查收·谢谢".encode("gbk"), "gb2312", "朱镕基先生：您好—请查收·谢谢", "gb18030", None),
        ("喆堃昇玥".encode("gbk"), "GBK", "喆堃昇玥", "gb18030", None),
        ("镕".encode("gbk"), "x-gbk", "镕", "gb18030", None),
        ("镕".encode("gbk"), "windows-936", "镕", "gb18030", None),
        ("镕".encode("gbk"), '"CP936"', "镕", "gb18030", None),
        ("€𠮷".encode("gb18030"), "gb_2312", "€𠮷", "gb18030", None),
        ("镕".encode("gbk"), "csgb2312", "镕", "gb18030", None),
        ("镕".encode("gbk"), "chinese", "镕", "gb18030", None),
        # Big5: HKSCS first, then cp950 for the euro and ETEN characters
        ("香港㗎嘅啲喆".encode("big5hkscs"), "big5", "香港㗎嘅啲喆", "big5hkscs", None),
        ("價格€100碁".encode("cp950"), "big5", "價格€100碁", "cp950", None),
        ("數據庫連不上了".encode("big5"), "x-x-big5", "數據庫連不上了", "big5hkscs", None),
        # wrong, missing and unknown labels
        (GBK_SENTENCE, "utf-8", "数据库连不上了，请帮忙", "gb18030", "labelled utf-8: decoded as gb18030"),
        (GBK_SENTENCE, None, "数据库连不上了，请帮忙", "gb18030", "no charset label: decoded as gb18030"),
        (
            GBK_SENTENCE,
            "unknown-8bit",
            "数据库连不上了，请帮忙",
            "gb18030",
            "unknown charset 'unknown-8bit': decoded as gb18030",
        ),
        (GBK_SENTENCE, "base64", "数据库连不上了，请帮忙", "gb18030", "unknown charset 'base64': decoded as gb18030"),
        (
            "数据库连不上了，请帮忙".encode(),
            "gb2312",
            "数据库连不上了，请帮忙",
            "utf-8",
            "labelled gb2312: decoded as utf-8",
        ),
        ("数据库".encode(), None, "数据库", "utf-8", "no charset label: decoded as utf-8"),
        ("数据库".encode(), "us-ascii", "数据库", "utf-8", "labelled us-ascii: decoded as utf-8"),
        (b"plain ascii", None, "plain ascii", "ascii", None),
        (b"plain ascii", "no-such-charset", "plain ascii", "ascii", None),
        # single-byte labels: supersets, and UTF-8 sent under a Latin label
        ("Grüße aus München".encode("latin-1"), "iso-8859-1", "Grüße aus München", "cp1252", None),
        ("Grüße".encode(), "iso-8859-1", "Grüße", "utf-8", "labelled iso-8859-1: decoded as utf-8"),
        ("Don\u2019t".encode("cp1252"), None, "Don\u2019t", "cp1252", "no charset label: decoded as cp1252"),
        ("Привет, как дела".encode("koi8-r"), "koi8-r", "Привет, как дела", "koi8-r", None),
        # 7-bit charsets, byte order marks, broken UTF-8
        (b"\x1b$B0!\x1b(B", "iso-2022-jp", "亜", "iso2022_jp", None),
        (
            b"\x1b$B0",
            "iso-2022-jp",
            "\ufffd",
            "iso2022_jp",
            "labelled iso-2022-jp: decoded as iso2022_jp, replaced 1 undecodable byte sequences",
        ),
        (b"\xef\xbb\xbfhello \xe4\xb8\xad", "utf-8", "hello 中", "utf-8", None),
        ("中文".encode("utf-16"), None, "中文", "utf-16", "no charset label: decoded as utf-16 (byte order mark)"),
        (
            b"good \xe2\x80\x99 text \xe4\xb8\xad\xe6\x96\x87 bad \xff",
            "utf-8",
            "good \u2019 text 中文 bad \ufffd",
            "utf-8",
            "labelled utf-8: decoded as utf-8, replaced 1 undecodable byte sequences",
        ),
        (
            b"bad \xc8",
            "big5",
            "bad \ufffd",
            "big5hkscs",
            "labelled big5: decoded as big5hkscs, replaced 1 undecodable byte sequences",
        ),
    ],
)
def test_decode_text(data: bytes, label: str | None, text: str, codec: str, fallback: str | None) -> None:
    assert decode.decode_text(data, label) == decode.DecodedText(text, codec, fallback)


@pytest.mark.parametrize(
    ("data", "hint", "text", "fallback"),
    [
        ("自动回复".encode("gbk"), "gb2312", "自动回复", "no charset label: decoded as gb18030, the message's charset"),
        (
            "Grüße".encode("latin-1"),
            "iso-8859-1",
            "Grüße",
            "no charset label: decoded as cp1252, the message's charset",
        ),
        (
            "數據庫連不上".encode("big5"),
            "big5",
            "數據庫連不上",
            "no charset label: decoded as big5hkscs, the message's charset",
        ),
        ("数据库连不上了".encode("gbk"), "iso-8859-1", "数据库连不上了", "no charset label: decoded as gb18030"),
    ],
)
def test_decode_text_uses_the_message_charset_before_guessing(data: bytes, hint: str, text: str, fallback: str) -> None:
    decoded = decode.decode_text(data, None, hint)
    assert (decoded.text, decoded.fallback) == (text, fallback)


@pytest.mark.parametrize(
    ("label", "normalised", "codecs", "known"),
    [
        (' "GB2312" ', "gb2312", ("gb18030",), True),
        ("charset=us-ascii", "us-ascii", ("ascii",), True),
        ("utf-8\n content-transfer-encoding: 7bit", "utf-8", ("utf-8",), True),
        ("BIG5-HKSCS", "big5-hkscs", ("big5hkscs", "cp950"), True),
        ("ks_c_5601-1987", "ks_c_5601-1987", ("cp949",), True),
        ("x-mac-cyrillic", "x-mac-cyrillic", ("mac-cyrillic",), True),
        ("unicode-1-1-utf-7", "unicode-1-1-utf-7", ("utf-7",), True),
        ("x-unknown", "x-unknown", (), False),
        ("rot13", "rot13", (), False),
        ("idna", "idna", (), False),
        (None, "", ("ascii",), False),
    ],
)
def test_charset_plan(label: str | None, normalised: str, codecs: tuple[str, ...], known: bool) -> None:
    assert charsets.normalise_label(label) == normalised
    plan = charsets.plan(normalised)
    assert (plan.codecs, plan.known) == (codecs, known)


@pytest.mark.parametrize(
    ("label", "hint"),
    [("gb2312", "gb2312"), ("ISO-8859-1", "iso-8859-1"), ("utf-8", None), ("us-ascii", None), ("x-foo", None)],
)
def test_charset_hint(label: str, hint: str | None) -> None:
    assert charsets.hint(label) == hint


GBK_ORDER = "您好我的订单有问题".encode("gbk")
UTF8_ORDER = "您好我的订单有问题".encode()


@pytest.mark.parametrize(
    ("value", "text", "notes"),
    [
        ("plain subject", "plain subject", ()),
        ("folded\r\n subject\n\tline", "folded subject\tline", ()),
        (f"=?gb2312?B?{_b('朱镕基的问题')}?=", "朱镕基的问题", ()),
        (f"=?GBK?b?{_b('镕')}?=", "镕", ()),
        (f"=?big5?B?{_b('系統當機', 'big5')}?=", "系統當機", ()),
        ("=?gb2312?Q?=BD=F4=BC=B1=A3=BA=CD=F8=C2=E7_=D6=D0=B6=CF?=", "紧急：网络 中断", ()),
        # a multibyte character split across two words, GBK and UTF-8
        (
            f"=?GBK?B?{base64.b64encode(GBK_ORDER[:5]).decode()}?=\r\n"
            f" =?gbk?B?{base64.b64encode(GBK_ORDER[5:]).decode()}?=",
            "您好我的订单有问题",
            (),
        ),
        (
            f"Re: =?UTF-8?B?{base64.b64encode(UTF8_ORDER[:4]).decode()}?= "
            f"=?utf-8?B?{base64.b64encode(UTF8_ORDER[4:]).decode()}?= (2)",
            "Re: 您好我的订单有问题 (2)",
            (),
        ),
        # white space between words goes, around plain text it stays
        ("=?utf-8?Q?a?= =?utf-8?Q?b?= c =?utf-8?Q?d?=", "ab c d", ()),
        ("=?iso-8859-1?Q?Fr=F6sche?= und =?utf-8?B?5Lit?=", "Frösche und 中", ()),
        ("=?utf-8*zh-cn?B?5Lit5paH?=", "中文", ()),
        ("=?utf-8?B?5Lit5paH?=", "中文", ()),
        ("=?utf-8?B?5Lit5paH=?=", "中文", ()),  # bad padding
        (f"=?utf-8?B?{_b('数据库', 'gbk')}?=", "数据库", ("encoded-word labelled utf-8: decoded as gb18030",)),
        # raw 8-bit headers (BytesParser keeps the bytes as surrogates)
        (
            "自动回复：发票问题".encode("gbk").decode("ascii", "surrogateescape"),
            "自动回复：发票问题",
            ("8-bit header decoded as gb18030",),
        ),
        ("自动回复".encode().decode("ascii", "surrogateescape"), "自动回复", ()),
        ("Fr\udcf6sche", "Frösche", ("8-bit header decoded as cp1252",)),
        ("=?iso-8859-1?Q?Fr\udcf6sche?=", "Frösche", ()),
        ("=?bogus?Q?abc?=", "abc", ()),
        ("not =? a word", "not =? a word", ()),
    ],
)
def test_decode_header_value(value: str, text: str, notes: tuple[str, ...]) -> None:
    assert decode.decode_header_value(value) == (text, notes)


def test_8bit_header_uses_the_message_charset() -> None:
    raw = "陳大文".encode("big5").decode("ascii", "surrogateescape")
    assert decode.decode_header_value(raw, "big5") == (
        "陳大文",
        ("8-bit header decoded as big5hkscs, the message's charset",),
    )
