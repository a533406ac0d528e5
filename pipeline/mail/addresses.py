"""Addresses, Message-IDs and dates out of raw header values.

Addresses are split before display names are decoded: a decoded name may contain the commas and
angle brackets that separate addresses (``=?gbk?B?...?=`` hides "张三, 技术部").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime

from pipeline.mail import decode

_ANGLE_ID = re.compile(r"<\s*([^<>\s][^<>]*?)\s*>")
_BARE_ID = re.compile(r"[^\s<>()\",;]+@[^\s<>()\",;]+")
_WHITESPACE = re.compile(r"\s+")
_SINGLE_ID = re.compile(r"\s*<([!-;=?-~]+)>\s*")  # the usual one printable <id>, nothing else
# One plain mailbox: `a@b`, `Name <a@b>`, `"Name" <a@b>`. email.utils.getaddresses is pure Python and
# the slowest step for simple mail, so the common shapes skip it; anything else goes through it.
_ADDR = r"[^<>\s,;:\"()\[\]\\@]+@[^<>\s,;:\"()\[\]\\@]+"
_SIMPLE_MAILBOX = re.compile(rf'\s*(?:"([^"\\]*)"|([^"<>,;:@()\[\]\\]*?))\s*<({_ADDR})>\s*|\s*({_ADDR})\s*')


def mailboxes(value: str | None, hint: str | None = None) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """[(display name, lower-case addr-spec)] of an address header, and decoding notes."""
    if not value:
        return [], ()
    notes: list[str] = []
    found: list[tuple[str, str]] = []
    value = decode.unfold(value)
    simple = _SIMPLE_MAILBOX.fullmatch(value)
    if simple:
        pairs = [(simple.group(1) or simple.group(2) or "", simple.group(3) or simple.group(4))]
    else:
        pairs = getaddresses([value])
    for name, addr in pairs:
        if not name and not addr:
            continue
        text, name_notes = decode.decode_header_value(name, hint) if name else ("", ())
        notes.extend(name_notes)
        addr, addr_note = decode.recover_8bit(addr, hint)  # SMTPUTF8 local parts arrive as 8-bit UTF-8
        if addr_note:
            notes.append(addr_note)
        found.append((text.strip(), addr.strip().lower()))
    return found, tuple(notes)


def addr_specs(value: str | None) -> tuple[str, ...]:
    """Lower-case addr-specs of an address header, empty ones dropped."""
    found, _ = mailboxes(value)
    return tuple(addr for _, addr in found if addr)


def return_path(value: str | None) -> str | None:
    """None when absent, "" for the null sender ``<>``, else the lower-case address."""
    if value is None:
        return None
    text = decode.unfold(value).strip()
    if text.replace(" ", "") in ("<>", ""):
        return ""
    match = _ANGLE_ID.search(text)
    address = match.group(1) if match else text
    return decode.recover_8bit(address)[0].strip().lower()


def message_ids(value: str | None) -> tuple[str, ...]:
    """Message-IDs without angle brackets, in order, each once.

    Takes every ``<...>`` token, so comments and "Your message of ..." prose are skipped; a value
    without brackets counts only if it looks like ``local@domain``. Folding inside an ID is removed.
    """
    if not value:
        return ()
    single = _SINGLE_ID.fullmatch(value)
    if single:
        return (single.group(1),)
    text = decode.recover_8bit(value)[0]
    found = [_WHITESPACE.sub("", match) for match in _ANGLE_ID.findall(text)]
    if not found:
        found = _BARE_ID.findall(text)
    return tuple(dict.fromkeys(item for item in found if item))


def message_id(value: str | None) -> str | None:
    ids = message_ids(value)
    return ids[0] if ids else None


def parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime, or None when the Date header is missing or unreadable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(decode.unfold(value).strip())
        if parsed.tzinfo is None:  # "-0000": UTC with no claim about the local zone (RFC 5322 3.3)
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
