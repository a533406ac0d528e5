"""Content-Transfer-Encoding undone leniently: what senders get wrong still yields the bytes.

compat32's own ``get_payload(decode=True)`` misses ``base64 `` with a trailing space or quotes and
turns a bad uuencode line into the raw text, so the part's raw payload is decoded here instead.
"""

from __future__ import annotations

import binascii
import re

_UUENCODE = frozenset(["x-uuencode", "uuencode", "uue", "x-uue"])
_IDENTITY = frozenset(["", "7bit", "8bit", "binary"])
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def decode_body(data: bytes, encoding: str) -> tuple[bytes, str | None]:
    """The payload bytes, and what was wrong with them if anything (a short defect note)."""
    encoding = encoding.strip().strip("\"'").lower()
    encoding = encoding.split(None, 1)[0] if encoding else ""
    if encoding in _IDENTITY:
        return data, None
    if encoding == "base64":
        try:
            return binascii.a2b_base64(data), None  # skips line breaks and stray characters itself
        except binascii.Error:  # only padding is fatal: keep every whole byte
            clean = _NOT_BASE64.sub(b"", data)
            if len(clean) % 4 == 1:
                clean = clean[:-1]
            return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4)), "bad base64 padding"
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data), None
    if encoding in _UUENCODE:
        return _uudecode(data), None
    return data, f"unknown transfer encoding {encoding[:40]!r}, kept as is"


def _uudecode(data: bytes) -> bytes:
    out = bytearray()
    started = b"begin " not in data  # some mailers send the lines without the begin/end frame
    for line in data.splitlines():
        if not started:
            started = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`", b""):
            continue
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:  # trailing garbage: decode only the length the line says it holds
            length = (((line[0] - 32) & 63) * 4 + 5) // 3
            try:
                out += binascii.a2b_uu(line[:length])
            except binascii.Error:
                continue
    return bytes(out)
