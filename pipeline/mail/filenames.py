"""MIME parameters and attachment filenames as senders really write them.

compat32's ``get_param`` turns raw 8-bit parameters into U+FFFD and returns Outlook/Foxmail/QQ
``filename="=?gb18030?B?...?="`` literally (domain.md section 1), so parameters are parsed here from
the raw header value: quoted strings, RFC 2231 (``filename*=gbk''%D6%D0``, ``filename*0*=`` ...),
RFC 2047 words inside quotes, and bare 8-bit bytes.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes

from pipeline.mail import decode

_PARAM = re.compile(r'\s*([^\s=;"]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)(?:"|$)|([^;]*))', re.S)
_SECTION = re.compile(r"^(.*?)\*(\d+)(\*?)$")
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]')
_SPACES = re.compile(r"\s+")
_ESCAPED = re.compile(r"\\(.)", re.S)
_SEPARATOR = re.compile(r"[/\\]")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\.|$)", re.I)
MAX_FILENAME = 150


def parse_params(value: str) -> tuple[str, dict[str, str]]:
    """``text/plain; charset="gb2312"`` -> (``text/plain``, {"charset": "gb2312"}).

    Names are lower-cased; values keep their raw text (surrogates for 8-bit bytes). A missing closing
    quote ends the value at the end of the header, as mail clients read it.
    """
    if ";" not in value:
        return value.strip().lower(), {}
    value = decode.unfold(value)
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None:
            end = rest.find(";", position)
            if end < 0:
                break
            position = end + 1
            continue
        name = match.group(1).lower()
        if match.group(2) is not None:
            raw = match.group(2)
            raw = _ESCAPED.sub(r"\1", raw) if "\\" in raw else raw
        else:
            raw = match.group(3).strip()
        params.setdefault(name, raw)
        position = match.end()
        if position < len(rest) and rest[position] == ";":
            position += 1
        elif position < len(rest):  # junk after a quoted value: skip to the next parameter
            end = rest.find(";", position)
            position = len(rest) if end < 0 else end + 1
    return head.strip().lower(), params


def param_text(params: dict[str, str], name: str, hint: str | None = None) -> tuple[str | None, tuple[str, ...]]:
    """One parameter decoded to text, RFC 2231 form first; (None, ()) when absent."""
    extended = _rfc2231(params, name)
    if extended is not None:
        data, charset = extended
        decoded = decode.decode_text(data, charset, hint)
        notes = (f"RFC 2231 {decoded.fallback}",) if decoded.fallback else ()
        if "=?" in decoded.text:
            text, more = decode.decode_header_value(decoded.text, hint)
            return text, notes + more
        return decoded.text, notes
    raw = params.get(name)
    if raw is None:
        return None, ()
    return decode.decode_header_value(raw, hint)


def _rfc2231(params: dict[str, str], name: str) -> tuple[bytes, str] | None:
    """The bytes and charset of ``name*`` or its ``name*0``, ``name*1*`` ... sections, if any."""
    sections: dict[int, tuple[str, bool]] = {}
    if name + "*" in params:
        sections[0] = (params[name + "*"], True)
    for key, raw in params.items():
        match = _SECTION.match(key)
        if match and match.group(1) == name:
            sections.setdefault(int(match.group(2)), (raw, bool(match.group(3))))
    if not sections:
        return None
    charset = ""
    chunks: list[bytes] = []
    for index in sorted(sections)[:1000]:
        raw, encoded = sections[index]
        if encoded and index == min(sections) and raw.count("'") >= 2:
            charset, _, raw = raw.split("'", 2)
        data = raw.encode("utf-8", "surrogateescape")
        chunks.append(unquote_to_bytes(data) if encoded else data)
    return b"".join(chunks), charset


def safe_filename(name: str | None, default: str = "attachment") -> str:
    """A name that is safe to show and to write to any disk: never empty, never a path.

    Keeps the last path component ("../../etc/passwd" -> "passwd", "C:\\x\\a.doc" -> "a.doc"), drops
    control and bidi-override characters (a right-to-left override disguises "exe.pdf"), leading
    dots and Windows-reserved names, and cuts to 150 characters / 240 UTF-8 bytes keeping the extension.
    """
    name = unicodedata.normalize("NFC", _UNSAFE.sub("", (name or "").replace("\t", " ")))
    components = [part for part in _SEPARATOR.split(name) if part.strip(" .")]
    name = _SPACES.sub(" ", components[-1]).strip(" .") if components else ""
    if _RESERVED.match(name):
        name = "_" + name
    name = _shorten(name)
    return name or default


def _shorten(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, ext = name, ""
    else:
        ext = "." + ext
    stem = stem[: MAX_FILENAME - len(ext)]
    while stem and len((stem + ext).encode("utf-8")) > 240:
        stem = stem[:-1]
    return stem.rstrip(" .") + ext if stem.rstrip(" .") else ext.lstrip(".")
