"""Bytes and header words to text without garbling anything that can be decoded.

Chinese mail lies about its charset: ``gb2312`` labels carry GBK-only characters, GBK bytes arrive
labelled ``utf-8`` or not labelled at all, Big5 needs HKSCS or the Microsoft euro. So a label is a hint
that picks a family of codecs (domain.md section 1). When the label cannot be honoured we try the
likely codecs strictly, then charset detection, and replace bytes only as a last resort; every such
step comes back as a short ``fallback`` string so the ticket shows what happened.
"""

from __future__ import annotations

import binascii
import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

from charset_normalizer import from_bytes

# Every label a GB-family sender writes decodes as gb18030, the superset (WHATWG "gbk" decoder).
_GB_LABELS = frozenset(
    "gb2312 gbk x-gbk cp936 ms936 windows-936 euc-cn euccn x-euc-cn gb_2312 gb_2312-80 gb2312-80 "
    "csgb2312 csgb231280 chinese csiso58gb231280 iso-ir-58 gb18030 iso-gb2312 cn-gb gb2312-1980".split()
)
# No Python codec covers Big5 + HKSCS + ETEN + euro, so the family tries two.
_BIG5_LABELS = frozenset(
    "big5 big-5 big5-hkscs big5hkscs cn-big5 csbig5 x-x-big5 x-big5 cp950 ms950 windows-950 big5-eten".split()
)
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
_NOT_CHARSETS = frozenset(
    "idna punycode raw_unicode_escape unicode_escape undefined mbcs oem".split()
)
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?(.*?)\?=", re.S)
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_SURROGATE = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_LABEL_TOKEN = re.compile(r"[a-z0-9._:+-]+")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_CJK = re.compile("[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
# ASCII bytes with the escapes of ISO-2022, UTF-7 and HZ: codecs that read it as itself are ASCII-safe.
_ASCII_PROBE = bytes(range(128)) + b"\x1b$B0!\x1b(B +AGE- ~{0!~}"
# What detection may answer: the charsets Chinese and English mail really uses. Unrestricted,
# charset_normalizer calls a short Latin-1 word cp1006 (Urdu) and GBK names cp949.
_DETECTABLE = [
    "utf_8", "gb18030", "big5hkscs", "cp950", "cp1252", "cp1251", "koi8_r", "cp932", "euc_jp", "utf_16",
]


@dataclass(frozen=True)
class DecodedText:
    text: str
    codec: str  # the Python codec that produced text
    fallback: str | None = None  # what was done instead of honouring the label; None when strict


@dataclass(frozen=True)
class _Plan:
    label: str  # normalised label, "" when missing
    codecs: tuple[str, ...]  # strict attempts that honour the label (supersets included)
    known: bool  # the label names a charset we can decode
    ascii_safe: bool  # every codec maps ASCII bytes to the same ASCII text
    replace_codec: str  # codec for the last-resort decode with replacement


def normalise_label(label: str | None) -> str:
    """``' "GB2312" '`` -> ``gb2312``; junk after the first token is dropped (``utf-8\\n cte: 7bit``)."""
    if not label:
        return ""
    label = label.strip().strip("\"'").strip().lower()
    label = label.removeprefix("charset=").strip("\"'")
    match = _LABEL_TOKEN.match(label)
    return match.group() if match else ""


@lru_cache(maxsize=512)
def _plan(label: str) -> _Plan:
    if not label or label in ("us-ascii", "ascii", "us", "ansi_x3.4-1968", "iso646-us", "csascii"):
        return _Plan(label, ("ascii",), bool(label), True, "utf-8")
    if label in _GB_LABELS:
        return _Plan(label, ("gb18030",), True, True, "gb18030")
    if label in _BIG5_LABELS:
        return _Plan(label, ("big5hkscs", "cp950"), True, True, "big5hkscs")
    names = _SUPERSETS.get(label) or _lookup(label)
    if not names:
        return _Plan(label, (), False, True, "utf-8")
    safe = True
    for name in names:
        try:
            safe = safe and _ASCII_PROBE.decode(name) == _ASCII_PROBE.decode("ascii")
        except UnicodeDecodeError:
            safe = False
    return _Plan(label, names, True, safe, names[0])


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


def decode_text(data: bytes, label: str | None) -> DecodedText:
    """Decode body or parameter bytes; never raises and never replaces a byte that some codec reads."""
    plan = _plan(normalise_label(label))
    is_ascii = data.isascii()
    if is_ascii and plan.ascii_safe:
        return DecodedText(data.decode("ascii"), plan.codecs[0] if plan.codecs else "ascii")
    if plan.replace_codec in ("gb18030", "big5hkscs") and not is_ascii:
        # UTF-8 Chinese labelled gb2312 also passes gb18030 as mojibake (璇烽棶); GBK text is valid UTF-8
        # only by accident, and then it does not read as Chinese.
        utf8 = _utf8_chinese(data)
        if utf8 is not None:
            return DecodedText(utf8, "utf-8", f"labelled {plan.label}: decoded as utf-8")
    for codec in plan.codecs:
        try:
            return DecodedText(_strip_bom(data.decode(codec)), codec)
        except UnicodeError:
            continue
    if not plan.label:
        why = "no charset label"
    elif plan.known:
        why = f"labelled {plan.label}"
    else:
        why = f"unknown charset {plan.label!r}"
    # ASCII bytes that a known label cannot read are broken escapes (ISO-2022): guessing would only
    # print the escape sequences, so go straight to replacement under the label.
    if not (is_ascii and plan.known):
        guessed = guess(data, skip=plan.codecs, big5=plan.replace_codec == "big5hkscs")
        if guessed is not None:
            return DecodedText(guessed.text, guessed.codec, f"{why}: {guessed.fallback}")
    return _replace(data, plan.replace_codec, why)


def guess(data: bytes, *, skip: tuple[str, ...] = (), big5: bool = False) -> DecodedText | None:
    """Strict utf-8, then plausible gb18030, then detection; None when nothing reads the bytes.

    ``fallback`` says which one won ("decoded as gb18030"). Big5-labelled bytes skip gb18030 and
    detection: the label family is right far more often than a guess over a few bytes.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and "utf-16" not in skip:
        try:
            return DecodedText(data.decode("utf-16"), "utf-16", "decoded as utf-16 (byte order mark)")
        except UnicodeError:
            pass
    if "utf-8" not in skip:
        try:
            return DecodedText(_strip_bom(data.decode("utf-8")), "utf-8", "decoded as utf-8")
        except UnicodeDecodeError:
            pass
    if big5:
        return None
    if "gb18030" not in skip:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            pass
        else:
            if _looks_chinese(text):
                return DecodedText(text, "gb18030", "decoded as gb18030")
    best = from_bytes(data, cp_isolation=_DETECTABLE).best()
    if best is None:
        return None
    return DecodedText(_strip_bom(str(best)), best.encoding, f"detected as {best.encoding}")


def _utf8_chinese(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    chars = _NON_ASCII.findall(text)
    cjk = len(_CJK.findall(text))
    return text if cjk >= 2 and cjk * 2 > len(chars) else None


def _looks_chinese(text: str) -> bool:
    """Whether gb18030 output is Chinese rather than Latin-1 or Big5 bytes read as rare GBK characters.

    Real GBK text is almost all GB2312 characters (names like 朱镕基 add a few rare ones); misread
    bytes land in the GBK extension and the user-defined (private use) areas.
    """
    if _PRIVATE_USE.search(text):
        return False
    chars = "".join(_NON_ASCII.findall(text))
    rare = chars.encode("gb2312", "replace").count(b"?")
    return rare * 2 <= len(chars)


def _replace(data: bytes, codec: str, why: str) -> DecodedText:
    text = data.decode(codec, "replace")
    count = text.count("\ufffd")
    if codec == "utf-8":
        count -= data.count(b"\xef\xbf\xbd")  # a U+FFFD the sender wrote is not a replacement
    return DecodedText(
        _strip_bom(text), codec, f"{why}: decoded as {codec}, replaced {count} undecodable byte sequences"
    )


def _strip_bom(text: str) -> str:
    return text[1:] if text[:1] == "\ufeff" else text


def unfold(value: str) -> str:
    """Undo header folding: a line break before white space is removed, the white space stays."""
    if "\n" not in value and "\r" not in value:
        return value
    return _FOLD.sub("", value).replace("\r", "").replace("\n", "")


def recover_8bit(value: str) -> tuple[str, str | None]:
    """Text of a header that arrived as raw 8-bit bytes (BytesParser keeps them as surrogates).

    UTF-8 is legal there (RFC 6532) and needs no note; anything else is a guess and says so.
    """
    if value.isascii() or not _SURROGATE.search(value):
        return value, None
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    guessed = guess(raw, skip=("utf-8",))
    if guessed is not None:
        return guessed.text, f"8-bit header {guessed.fallback}"
    replaced = _replace(raw, "utf-8", "8-bit header")
    return replaced.text, replaced.fallback


def decode_header_value(value: str) -> tuple[str, tuple[str, ...]]:
    """Decode a raw header value: 8-bit bytes, RFC 2047 words (B and Q, any charset), folding.

    Adjacent encoded-words with the same charset are joined as bytes before decoding, because
    mailers split multibyte characters across words although RFC 2047 section 5 forbids it.
    White space between encoded-words is dropped (RFC 2047 section 6.2).
    """
    notes: list[str] = []
    value, note = recover_8bit(value)
    if note:
        notes.append(note)
    value = unfold(value)
    if "=?" not in value:
        return value, tuple(notes)
    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset = ""
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()
        if gap and (not gap.isspace() or position == 0):
            _flush(out, pending, pending_charset, notes)
            out.append(gap)
        elif pending and charset != pending_charset:
            _flush(out, pending, pending_charset, notes)
        pending_charset = charset
        pending += _word_bytes(match.group(2), match.group(3))
        position = match.end()
    _flush(out, pending, pending_charset, notes)
    out.append(value[position:])
    return "".join(out), tuple(notes)


def _flush(out: list[str], pending: bytearray, charset: str, notes: list[str]) -> None:
    if not pending:
        return
    decoded = decode_text(bytes(pending), charset)
    if decoded.fallback:
        notes.append(f"encoded-word {decoded.fallback}")
    out.append(decoded.text)
    pending.clear()


def _word_bytes(encoding: str, text: str) -> bytes:
    data = text.encode("utf-8", "surrogateescape")
    if encoding in "qQ":
        return binascii.a2b_qp(data, header=True)
    data = _NOT_BASE64.sub(b"", data)
    if len(data) % 4 == 1:  # a lone trailing sextet carries no whole byte
        data = data[:-1]
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
