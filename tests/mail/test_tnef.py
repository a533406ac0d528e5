"""winmail.dat: unpacked with tnefparse, after a walk that refuses counts the bytes cannot hold."""

from __future__ import annotations

import struct
import time

import pytest

from pipeline.mail import tnef


def _object(level: int, ident: int, data: bytes) -> bytes:
    return struct.pack("<BHHI", level, ident, 0x0006, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def _props(*props: tuple[int, int, bytes]) -> bytes:
    out = struct.pack("<I", len(props))
    for kind, ident, value in props:
        out += struct.pack("<HHII", kind, ident, 1, len(value)) + value + b"\0" * (-len(value) % 4)
    return out


def _utf16(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def _stream(*objects: bytes) -> bytes:
    return struct.pack("<IH", 0x223E9F78, 1) + b"".join(objects)


VERSION = _object(1, 0x9006, struct.pack("<I", 0x00010000))
GBK_CODEPAGE = _object(1, 0x9007, struct.pack("<II", 936, 0))
BODY = _object(1, 0x9003, _props((0x001F, 0x1000, _utf16("各位好，\r\n附件是日志。"))))
RENDER = _object(2, 0x9002, b"\x01\x00\xff\xff\xff\xff\x01\x00\x01\x00\x00\x00\x00\x00")


def test_unpack_body_and_attachments() -> None:
    data = _stream(
        VERSION,
        GBK_CODEPAGE,
        BODY,
        RENDER,
        _object(2, 0x8010, "日志.txt\0".encode("gbk")),  # 8.3 title in the OEM codepage only
        _object(2, 0x800F, b"line 1\r\n"),
        RENDER,
        _object(2, 0x8010, b"REPORT~1.PDF\0"),
        _object(2, 0x800F, b"%PDF\0\0"),
        _object(
            2, 0x9005, _props((0x001F, 0x3707, _utf16("季度报告.pdf")), (0x001F, 0x370E, _utf16("application/pdf")))
        ),
    )
    content = tnef.unpack(data)
    assert content.text == "各位好，\n附件是日志。"
    assert content.html is None
    assert [(a.filename, a.content_type, a.content) for a in content.attachments] == [
        ("日志.txt", "application/octet-stream", b"line 1\r\n"),
        ("季度报告.pdf", "application/pdf", b"%PDF\0\0"),
    ]
    assert content.notes == ()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "not a TNEF stream (bad signature)"),
        # a property count of 2**32 - 1 would keep tnefparse looping (and logging) for hours
        (
            _stream(VERSION, _object(1, 0x9003, struct.pack("<I", 0xFFFFFFFF) + b"\0" * 16)),
            "TNEF count 4294967295 exceeds the 2 the data can hold",
        ),
        (
            _stream(VERSION, _object(1, 0x9003, struct.pack("<IHHI", 1, 0x1002, 0x1000, 0x7FFFFFFF) + b"\0" * 8)),
            "TNEF count 2147483647 exceeds the 6 the data can hold",
        ),
        (
            _stream(VERSION, _object(1, 0x9004, struct.pack("<I", 0x10000000))),
            "TNEF count 268435456 exceeds the 1 the data can hold",
        ),
        (_stream(VERSION, _object(1, 0x9003, b"\x01"), b"\0" * 4), "truncated TNEF"),
    ],
)
def test_unreadable_streams_are_refused_quickly(data: bytes, reason: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError) as raised:
        tnef.unpack(data)
    assert str(raised.value).startswith(reason)
    assert time.perf_counter() - started < 1


def test_is_tnef() -> None:
    assert tnef.is_tnef(_stream(VERSION))
    assert not tnef.is_tnef(b"\x78\x9f")
