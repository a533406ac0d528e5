"""Outlook's winmail.dat (application/ms-tnef) unpacked into body text and real attachments.

tnefparse does the reading, but it trusts every count in the file: a property count of 2**32 makes it
loop (and log) for hours, and a short value slice never stops a multi-value loop. So the structure is
walked here first with every count checked against the bytes that are left; a file that fails the
walk is kept as the winmail.dat attachment it arrived as. The body may also exist only as compressed
RTF, which is not converted: Outlook puts the same words in the text/plain part next to winmail.dat.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tnefparse import properties as mapi_names
from tnefparse.tnef import TNEF

from pipeline import records
from pipeline.mail import decode, filenames, html

_SIGNATURE = 0x223E9F78
_MAPI_PROPS, _RECIPIENTS, _ATTACHMENT = 0x9003, 0x9004, 0x9005
_IMESSAGE = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_FIXED_SIZE = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8}
_FIXED_SIZE |= {0x0014: 8, 0x0040: 8, 0x0048: 16}
_VARIABLE = frozenset([0x0000, 0x000D, 0x001E, 0x001F, 0x0102])
_MAX_OBJECTS = 10_000
_MAX_EMBEDDING = 4
# What tnefparse raises on bytes it cannot follow (it indexes, unpacks and decodes without checks).
_LIBRARY_FAILURES = (
    ValueError, TypeError, LookupError, struct.error, AssertionError, AttributeError, NameError,
    OverflowError, UnicodeError,
)  # fmt: skip


@dataclass(frozen=True)
class TnefContent:
    text: str  # "" when the body is only RTF or absent
    html: str | None
    attachments: tuple[records.Attachment, ...]
    notes: tuple[str, ...]  # decoding fallbacks


def is_tnef(data: bytes) -> bool:
    return len(data) >= 6 and struct.unpack_from("<I", data)[0] == _SIGNATURE


def unpack(data: bytes) -> TnefContent:
    """Body and attachments of a TNEF stream; ValueError with a reason when it cannot be read."""
    try:
        _check_stream(data, 0)
    except struct.error as exc:
        raise ValueError(f"truncated TNEF: {exc}") from exc
    try:
        parsed = TNEF(data, do_checksum=False)
    except _LIBRARY_FAILURES as exc:
        raise ValueError(f"unreadable TNEF: {type(exc).__name__}: {exc}") from exc
    notes: list[str] = []
    codepage = parsed.codepage or "cp1252"
    text = _text(parsed.body, codepage, notes)
    raw_html = parsed.htmlbody
    html_charset = html.meta_charset(raw_html) if isinstance(raw_html, bytes) else None
    body_html = _text(raw_html, html_charset or codepage, notes) or None
    if not text and body_html:
        text = html.html_to_text(body_html)
    attachments = []
    for index, item in enumerate(parsed.attachments):
        if not item.data:
            continue
        # The 8.3 title (_name) is in the OEM codepage; tnefparse's own .name decodes it as UTF-8.
        name = _property(item, mapi_names.MAPI_ATTACH_LONG_FILENAME) or getattr(item, "_name", b"")
        mime = _text(_property(item, mapi_names.MAPI_ATTACH_MIME_TAG), codepage, notes).strip().lower()
        content_id = _text(_property(item, mapi_names.MAPI_ATTACH_CONTENT_ID), codepage, notes).strip("<> ")
        attachments.append(
            records.Attachment(
                filename=filenames.safe_filename(_text(name, codepage, notes), f"winmail-{index + 1}.bin"),
                content_type=mime if "/" in mime else "application/octet-stream",
                content=item.data,
                content_id=content_id or None,
            )
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\x00").strip()
    return TnefContent(text, body_html, tuple(attachments), tuple(notes))


def _property(item: object, code: int) -> object:
    """One MAPI property of an attachment; None when absent or when its value cannot be read (a
    time or number property with short data makes tnefparse raise)."""
    for attr in getattr(item, "mapi_attrs", ()):
        if attr.name == code:
            try:
                return attr.data
            except _LIBRARY_FAILURES:
                return None
    return None


def _text(value: object, codepage: str, notes: list[str]) -> str:
    """tnefparse hands back str for MAPI strings and raw bytes in the OEM codepage for legacy ones."""
    if isinstance(value, str):
        return value.rstrip("\x00")
    if isinstance(value, bytes) and value:
        decoded = decode.decode_text(value.rstrip(b"\x00"), codepage)
        if decoded.fallback:
            notes.append(f"winmail.dat {decoded.fallback}")
        return decoded.text
    return ""


def _check_stream(data: bytes, depth: int) -> None:
    """Walk the TNEF objects as tnefparse will, refusing counts the remaining bytes cannot hold."""
    if not is_tnef(data):
        raise ValueError("not a TNEF stream (bad signature)")
    if depth > _MAX_EMBEDDING:
        raise ValueError("TNEF messages embedded too deeply")
    offset, objects = 6, 0
    while offset + 12 < len(data):
        objects += 1
        if objects > _MAX_OBJECTS:
            raise ValueError("TNEF stream with too many objects")
        _level, name, _kind, length = struct.unpack_from("<BHHI", data, offset)
        body = data[offset + 9 : offset + 9 + length]
        if name in (_MAPI_PROPS, _ATTACHMENT):
            _check_properties(body, 0, depth)
        elif name == _RECIPIENTS:
            rows = struct.unpack_from("<I", body)[0]
            position = 4
            for _ in range(_bounded(rows, len(body) // 4)):
                position = _check_properties(body, position, depth)
        offset += min(len(data) - offset, length + 11)


def _check_properties(data: bytes, offset: int, depth: int) -> int:
    count = struct.unpack_from("<I", data, offset)[0]
    offset += 4
    for _ in range(_bounded(count, (len(data) - offset) // 6)):
        kind, name = struct.unpack_from("<HH", data, offset)
        offset += 4
        if name >= 0x8000:  # named property: GUID, then an id or a UTF-16 name
            offset += 16
            named = struct.unpack_from("<I", data, offset)[0]
            offset += 4
            size = struct.unpack_from("<I", data, offset)[0]  # the id, or the name's length
            offset += 4
            if named:
                offset += _bounded(size, len(data) - offset) + (-size % 4)
        values = None
        if kind & 0x1000:
            kind ^= 0x1000
            values = _bounded(struct.unpack_from("<I", data, offset)[0], (len(data) - offset) // 2)
            offset += 4
        if kind not in _FIXED_SIZE and kind not in _VARIABLE:
            return offset  # tnefparse stops at an unknown type too
        for _ in range(values or 1):
            if kind in _FIXED_SIZE:
                offset += _FIXED_SIZE[kind]
                continue
            items = 1
            if not values:
                items = _bounded(struct.unpack_from("<I", data, offset)[0], (len(data) - offset) // 4)
                offset += 4
            for _ in range(items):
                size = struct.unpack_from("<I", data, offset)[0]
                offset += 4
                value = data[offset : offset + size]
                if value.startswith(_IMESSAGE):
                    _check_stream(value[len(_IMESSAGE) :], depth + 1)
                offset += _bounded(size, len(data) - offset) + (-size % 4)
        if offset > len(data):
            raise ValueError("TNEF property runs past its object")
        if (values or 1) % 2 and kind in (0x0002, 0x000B):
            offset += 2
    return offset


def _bounded(count: int, limit: int) -> int:
    if count > limit:
        raise ValueError(f"TNEF count {count} exceeds the {limit} the data can hold")
    return count
