"""MIME parameters and attachment names: RFC 2231, RFC 2047 in quotes, raw 8-bit, hostile names."""

from __future__ import annotations

import base64

import pytest

from pipeline.mail import filenames


def _raw(text: str, charset: str) -> str:
    """Bytes as BytesParser hands them over: 8-bit bytes as surrogates."""
    return text.encode(charset).decode("ascii", "surrogateescape")


def _pct(text: str, charset: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode(charset))


@pytest.mark.parametrize(
    ("value", "main", "params"),
    [
        ('text/plain; charset="gb2312"', "text/plain", {"charset": "gb2312"}),
        ("Text/HTML;\r\n\tcharset=GBK ; format=flowed", "text/html", {"charset": "GBK", "format": "flowed"}),
        ('attachment; filename="a;b \\"c\\".txt"', "attachment", {"filename": 'a;b "c".txt'}),
        ('attachment; filename="unterminated', "attachment", {"filename": "unterminated"}),
        ("attachment; filename=report final.pdf", "attachment", {"filename": "report final.pdf"}),
        ('inline; ; junk; name="x"', "inline", {"name": "x"}),
        ('attachment; name="a" trailing; size=3', "attachment", {"name": "a", "size": "3"}),
        ("", "", {}),
    ],
)
def test_parse_params(value: str, main: str, params: dict[str, str]) -> None:
    assert filenames.parse_params(value) == (main, params)


W18030 = "=?gb18030?B?" + base64.b64encode("中文测试.docx".encode("gb18030")).decode() + "?="


@pytest.mark.parametrize(
    ("header", "name", "text", "notes"),
    [
        (f"attachment; filename*=gbk''{_pct('发票_镕2024.pdf', 'gbk')}", "filename", "发票_镕2024.pdf", ()),
        (f"attachment; filename*=gb2312''{_pct('发票_镕.pdf', 'gbk')}", "filename", "发票_镕.pdf", ()),
        (f"attachment; filename*=x-gbk'zh-cn'{_pct('发票.pdf', 'gbk')}", "filename", "发票.pdf", ()),
        (
            f"attachment;\r\n filename*0*=gbk''{_pct('故障', 'gbk')};\r\n filename*1*={_pct('日志.txt', 'gbk')}",
            "filename",
            "故障日志.txt",
            (),
        ),
        ('attachment; filename*0="long "; filename*1="name.txt"', "filename", "long name.txt", ()),
        (
            f"attachment; filename*=utf-8''{_pct('报告.pdf', 'utf-8')}; filename=\"fallback.pdf\"",
            "filename",
            "报告.pdf",
            (),
        ),
        (f'attachment; filename="{W18030}"', "filename", "中文测试.docx", ()),
        (f'application/octet-stream; name="{W18030}"', "name", "中文测试.docx", ()),
        (
            f'attachment; filename="{_raw("发票.pdf", "gbk")}"',
            "filename",
            "发票.pdf",
            ("8-bit header decoded as gb18030",),
        ),
        (f'attachment; filename="{_raw("报告.pdf", "utf-8")}"', "filename", "报告.pdf", ()),
        (
            f"attachment; filename*=''{_pct('数据库', 'gbk')}.txt",
            "filename",
            "数据库.txt",
            ("RFC 2231 no charset label: decoded as gb18030",),
        ),
        ("attachment", "filename", None, ()),
    ],
)
def test_param_text(header: str, name: str, text: str | None, notes: tuple[str, ...]) -> None:
    _, params = filenames.parse_params(header)
    assert filenames.param_text(params, name) == (text, notes)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("报告.pdf", "报告.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system.ini", "system.ini"),
        ("C:\\Users\\王喆\\报告.docx", "报告.docx"),
        ("/", "attachment"),
        ("..", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
        ("   ", "attachment"),
        (".bashrc", "bashrc"),
        ("report.pdf. . ", "report.pdf"),
        ("inv\x00oice\r\n.pdf", "invoice.pdf"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ('a<b>c:d"e|f?g*h.txt', "abcdefgh.txt"),
        ("CON.txt", "_CON.txt"),
        ("lpt1", "_lpt1"),
        ("tab\tand  spaces.txt", "tab and spaces.txt"),
        ("bad\udcd6\udcd0.txt", "bad.txt"),
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
        ("中" * 300 + ".pdf", "中" * 78 + ".pdf"),
        ("y" * 300, "y" * 150),
        ("." + "z" * 40, "z" * 40),
    ],
)
def test_safe_filename(name: str | None, safe: str) -> None:
    assert filenames.safe_filename(name) == safe


def test_safe_filename_default_is_used_for_nothing_left() -> None:
    assert filenames.safe_filename("../..", "part3.png") == "part3.png"
