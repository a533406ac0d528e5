"""What a charset label means: the Python codecs that honour it, supersets first.

A label is a hint that picks a family (domain.md section 1): ``gb2312`` means the gb18030 superset
(the WHATWG "gbk" decoder), Big5 needs big5hkscs or cp950, ``iso-8859-1`` means windows-1252, and
labels Python does not know (``x-gbk``, ``windows-936``) are mapped here rather than failing.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

# Every label a GB-family sender writes decodes as gb18030, the superset (WHATWG "gbk" decoder).
_GB_LABELS = frozenset([
    "gb2312", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "euc-cn", "euccn", "x-euc-cn", "gb_2312",
    "gb_2312-80", "gb2312-80", "csgb2312", "csgb231280", "chinese", "csiso58gb231280", "iso-ir-58",
    "gb18030", "iso-gb2312", "cn-gb", "gb2312-1980",
])  # fmt: skip
# No Python codec covers Big5 + HKSCS + ETEN + euro, so the family tries two.
_BIG5_LABELS = frozenset([
    "big5", "big-5", "big5-hkscs", "big5hkscs", "cn-big5", "csbig5", "x-x-big5", "x-big5", "cp950",
    "ms950", "windows-950", "big5-eten",
])  # fmt: skip
# Labels whose codec is a strict subset of what senders really use, or that Python does not know.
_SUPERSETS: dict[str, tuple[str, ...]] = {
    "iso-8859-1": ("cp1252", "latin-1"),  # WHATWG: the iso-8859-1 label means windows-1252
    "latin1": ("cp1252", "latin-1"),
    "latin-1": ("cp1252", "latin-1"),
    "iso_8859-1": ("cp1252", "latin-1"),
    "iso8859-1": ("cp1252", "latin-1"),
    "euc-kr": ("cp949",),
    "ks_c_5601-1987": ("cp949",),
    "ks_c_5601": ("cp949",),
    "korean": ("cp949",),
    "shift_jis": ("cp932", "shift_jis_2004"),
    "shift-jis": ("cp932", "shift_jis_2004"),
    "sjis": ("cp932", "shift_jis_2004"),
    "x-sjis": ("cp932", "shift_jis_2004"),
    "windows-31j": ("cp932",),
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_3"),
    "tis-620": ("cp874",),
    "unicode-1-1-utf-7": ("utf-7",),
    "unicode": ("utf-16",),
    "unicodebig": ("utf-16-be",),
    "unicodefffe": ("utf-16-be",),
    "unicodelittle": ("utf-16-le",),
    "utf8": ("utf-8",),
}
# Codecs Python knows that are not charsets: decoding with them would misread text, not decode it.
_NOT_CHARSETS = frozenset(["idna", "punycode", "raw_unicode_escape", "unicode_escape", "undefined", "mbcs", "oem"])
_LABEL_TOKEN = re.compile(r"[a-z0-9._:+-]+")
_ASCII_LABELS = frozenset(["us-ascii", "ascii", "us", "ansi_x3.4-1968", "iso646-us", "csascii"])
# ASCII bytes with the escapes of ISO-2022, UTF-7 and HZ: codecs that read it as itself are ASCII-safe.
_ASCII_PROBE = bytes(range(128)) + b"\x1b$B0!\x1b(B +AGE- ~{0!~}"
# UTF-8 and GBK for 中, UTF-8 for é, every high byte: a single-byte codec gives one character per byte.
_HIGH_PROBES = (b"\xe4\xb8\xad\xd6\xd0\xc3\xa9", bytes(range(128, 256)))


@dataclass(frozen=True)
class Plan:
    label: str  # normalised label, "" when missing
    codecs: tuple[str, ...]  # strict attempts that honour the label (supersets included)
    known: bool  # the label names a charset we can decode
    ascii_safe: bool  # every codec maps ASCII bytes to the same ASCII text
    replace_codec: str  # codec for the last-resort decode with replacement
    single_byte: bool = False  # one character per byte: it reads any bytes, so it proves nothing


@lru_cache(maxsize=1024)
def normalise_label(label: str | None) -> str:
    """``' "GB2312" '`` -> ``gb2312``; junk after the first token is dropped (``utf-8\\n cte: 7bit``)."""
    if not label:
        return ""
    label = label.strip().strip("\"'").strip().lower()
    label = label.removeprefix("charset=").strip("\"'")
    match = _LABEL_TOKEN.match(label)
    return match.group() if match else ""


@lru_cache(maxsize=512)
def plan(label: str) -> Plan:
    """The decoding plan for a normalised label ("" when missing: RFC 2045's us-ascii default)."""
    if not label or label in _ASCII_LABELS:
        return Plan(label, ("ascii",), bool(label), True, "utf-8")
    if label in _GB_LABELS:
        return Plan(label, ("gb18030",), True, True, "gb18030")
    if label in _BIG5_LABELS:
        return Plan(label, ("big5hkscs", "cp950"), True, True, "big5hkscs")
    names = _SUPERSETS.get(label) or _lookup(label)
    if not names:
        return Plan(label, (), False, True, "utf-8")
    safe = True
    for name in names:
        try:
            safe = safe and _ASCII_PROBE.decode(name) == _ASCII_PROBE.decode("ascii")
        except UnicodeDecodeError:
            safe = False
    single = all(len(probe.decode(names[0], "replace")) == len(probe) for probe in _HIGH_PROBES)
    return Plan(label, names, True, safe, names[0], single)


def _lookup(label: str) -> tuple[str, ...]:
    for candidate in (label, label.removeprefix("x-")):
        try:
            info = codecs.lookup(candidate)
        except LookupError:
            continue
        if info.name in _NOT_CHARSETS:
            continue
        try:
            b"a".decode(info.name)  # bytes-to-bytes codecs (base64, zlib) refuse here
        except LookupError:
            continue
        except UnicodeError:
            pass
        return (info.name,)
    return ()


def hint(label: str | None) -> str | None:
    """A label worth trying on unlabelled bytes of the same message: known, and not ASCII or UTF-8
    (those are tried anyway). Mailers write raw 8-bit headers in the charset of their body."""
    chosen = plan(normalise_label(label))
    if not chosen.known or chosen.codecs[0] in ("ascii", "utf-8"):
        return None
    return chosen.label
