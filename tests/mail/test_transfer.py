"""Content-Transfer-Encoding undone leniently."""

from __future__ import annotations

import pytest

from pipeline.mail import transfer


@pytest.mark.parametrize(
    ("data", "encoding", "content", "problem"),
    [
        (b"raw \xd6\xd0", "8bit", b"raw \xd6\xd0", None),
        (b"raw", "", b"raw", None),
        (b"5Lit\r\n5paH\r\n", "base64", "中文".encode(), None),
        (b"5Lit\r\n5paH\r\n", ' "Base64" ', "中文".encode(), None),
        (b"5Lit5pa", "base64", "中".encode() + b"\xe6\x96", "bad base64 padding"),
        (b"5Lit!!5paH", "base64", "中文".encode(), None),
        (b"=D6=D0=CE=C4 soft=\r\nbreak", "quoted-printable", b"\xd6\xd0\xce\xc4 softbreak", None),
        (b"begin 644 a.txt\n#:&D*\n`\nend\n", "x-uuencode", b"hi\n", None),
        (b",2&5L;&\\@6F%M;6%D\r\n`\r\n", "x-uuencode", b"Hello Zammad", None),
        (b"stuff", "x-weird", b"stuff", "unknown transfer encoding 'x-weird', kept as is"),
    ],
)
def test_decode_body(data: bytes, encoding: str, content: bytes, problem: str | None) -> None:
    assert transfer.decode_body(data, encoding) == (content, problem)
