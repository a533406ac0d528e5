"""Whatever bytes arrive, parse_mail returns a ParsedMail or raises UnprocessableMail, nothing else."""

from __future__ import annotations

import base64
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import errors, records
from pipeline.mail import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
# Small fixtures only: the endless-header one is 190 KB and says nothing new when mutated.
SEEDS = sorted(path.read_bytes() for path in FIXTURES.glob("*.eml") if path.stat().st_size < 8192)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CHARSETS = [
    "utf-8", "gb2312", "gbk", "x-gbk", "gb18030", "big5", "iso-8859-1", "us-ascii", "unknown-8bit", "", "utf-16",
]  # fmt: skip
CONTENT_TYPES = [
    "text/plain", "text/html", "image/png", "application/octet-stream", "application/ms-tnef",
    "message/rfc822", "message/delivery-status", "text/rfc822-headers", "multipart/mixed",
]  # fmt: skip
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
WORDS = st.text(alphabet=st.sampled_from('abc 中文镕喆堃€ü\t=?_;"<>@\\/.'), max_size=30)


def check(raw: bytes) -> None:
    try:
        mail = parse.parse_mail(raw)
    except errors.UnprocessableMail:
        return
    assert isinstance(mail, records.ParsedMail)
    assert mail.size == len(raw)
    assert mail.part_types
    for attachment in mail.attachments:
        name = attachment.filename
        assert name and len(name) <= 150 and "/" not in name and "\\" not in name and not name.startswith(".")
        assert isinstance(attachment.content, bytes)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "delete", "insert", "duplicate"]))
        if action == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=32))
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 128))]
    return bytes(data)


BOOLEANS = st.booleans()
CHARSET = st.sampled_from(CHARSETS)
CHARSET_PARAM = st.sampled_from(["charset", "charset", "charset*", "CHARSET"])
WORD_CHARSET = st.sampled_from(CHARSETS[:-2])
CONTENT_TYPE = st.sampled_from(CONTENT_TYPES)
LEAF_TYPE = st.sampled_from(CONTENT_TYPES[:5])
ENCODING = st.sampled_from(ENCODINGS)
DISPOSITION = st.sampled_from(["attachment", "inline"])
DATE = st.sampled_from(["Mon, 06 Jan 2025 09:30:00 +0800", "garbage", ""])
BODY = st.one_of(st.binary(max_size=200), WORDS.map(lambda text: text.encode("gbk", "replace")))


def _encoded_word(draw: st.DrawFn) -> str:
    charset = draw(WORD_CHARSET) or "utf-8"
    payload = draw(WORDS).encode("utf-8")
    if draw(BOOLEANS):
        return f"=?{charset}?B?{base64.b64encode(payload).decode()}?="
    return f"=?{charset}?Q?{payload.hex('=').upper()}?="


@st.composite
def part(draw: st.DrawFn, depth: int = 0) -> bytes:
    ctype = draw(CONTENT_TYPE if depth < 2 else LEAF_TYPE)
    lines = [f"Content-Type: {ctype}; {draw(CHARSET_PARAM)}={draw(CHARSET)}"]
    if draw(BOOLEANS):
        name = _encoded_word(draw) if draw(BOOLEANS) else "../../x.txt" if draw(BOOLEANS) else "winmail.dat"
        lines.append(f'Content-Disposition: {draw(DISPOSITION)}; filename="{name}"')
    if draw(BOOLEANS):
        lines.append(f"Content-Transfer-Encoding: {draw(ENCODING)}")
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
    if ctype.startswith("multipart/"):
        boundary = f"b{depth}"
        children = draw(CHILDREN[depth + 1])
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + child + b"\r\n" for child in children)
        if draw(BOOLEANS):
            body += b"--" + boundary.encode() + b"--\r\n"
        head = head.replace(b"; ", f'; boundary="{boundary}"; '.encode(), 1)
    elif ctype == "message/rfc822" and depth < 2:
        body = draw(MESSAGES[depth + 1])
    else:
        body = draw(BODY)
    return head + b"\r\n\r\n" + body


@st.composite
def message(draw: st.DrawFn, depth: int = 0) -> bytes:
    headers = [
        f"From: {_encoded_word(draw)} <{draw(WORDS)}@example.cn>",
        f"Subject: {_encoded_word(draw)}{_encoded_word(draw)}",
        f"Date: {draw(DATE)}",
    ]
    raw = "\r\n".join(headers).encode("utf-8", "surrogateescape")
    if draw(BOOLEANS):
        raw += b"\r\nX-Raw: " + draw(WORDS).encode("gbk", "replace")
    return raw + b"\r\n" + draw(PARTS[depth])


# Built once: hypothesis validates a strategy object on first use, so drawing fresh ones is slow.
PARTS = [part(depth) for depth in range(3)]
CHILDREN = [st.lists(strategy, max_size=2) for strategy in PARTS]
MESSAGES = [message(depth) for depth in range(3)]


@PROPERTY
@given(mutated())
def test_mutated_fixtures(raw: bytes) -> None:
    check(raw)


@PROPERTY
@given(st.binary(max_size=2048))
def test_random_bytes(raw: bytes) -> None:
    check(raw)


@PROPERTY
@given(MESSAGES[0])
def test_structured_random_messages(raw: bytes) -> None:
    check(raw)
