"""Bytes and header words to text without garbling anything that can be decoded.

Chinese mail lies about its charset: ``gb2312`` labels carry GBK-only characters, GBK bytes arrive
labelled ``utf-8`` or not labelled at all, Big5 needs HKSCS or the Microsoft euro. The label picks a
family of codecs (charsets.py). When the label cannot be honoured we try the likely codecs strictly,
then charset detection, and replace bytes only as a last resort; each such step comes back as a short
``fallback`` string so the ticket shows what happened (style.md section 4).
"""

from __future__ import annotations

import binascii
import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from pipeline.mail import charsets

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?(.*?)\?=", re.S)
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_SURROGATE = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_CJK = re.compile("[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_HIGH_RUN = re.compile(rb"[\x80-\xff]{2}")
_SAMPLE = 4096  # characters enough to tell a script; whole bodies can be megabytes
# What detection may answer: the charsets Chinese and English mail really uses. Unrestricted,
# charset_normalizer calls a short Latin-1 word cp1006 (Urdu), GBK names cp949, (R) katakana.
_DETECTABLE = ["utf_8", "gb18030", "big5hkscs", "cp950", "cp1252", "cp1251", "koi8_r", "utf_16"]


@dataclass(frozen=True)
class DecodedText:
    text: str
    codec: str  # the Python codec that produced text
    fallback: str | None = None  # what was done instead of honouring the label; None when strict


def decode_text(data: bytes, label: str | None, hint: str | None = None) -> DecodedText:
    """Decode body or parameter bytes; never raises, never replaces a byte that some codec reads.

    ``hint`` is a charset declared elsewhere in the same message (charsets.hint), tried on bytes
    whose own label is missing or wrong before any guessing.
    """
    plan = charsets.plan(charsets.normalise_label(label))
    is_ascii = data.isascii()
    if is_ascii and plan.ascii_safe:
        return DecodedText(data.decode("ascii"), plan.codecs[0] if plan.codecs else "ascii")
    if not is_ascii and (plan.single_byte or plan.replace_codec in ("gb18030", "big5hkscs")):
        # UTF-8 labelled gb2312 or iso-8859-1 also passes those codecs, as mojibake (璇烽棶, mÃ¶glich).
        # Latin text is never valid UTF-8 by accident; GBK is, rarely, but then it does not read as
        # Chinese.
        utf8 = _utf8_text(data, chinese=not plan.single_byte)
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
        guessed = _guess(data, skip=plan.codecs, big5=plan.replace_codec == "big5hkscs", hint=hint)
        if guessed is not None:
            return DecodedText(guessed.text, guessed.codec, f"{why}: {guessed.fallback}")
    return _replace(data, plan.replace_codec, why)


def _guess(
    data: bytes, *, skip: tuple[str, ...] = (), big5: bool = False, hint: str | None = None
) -> DecodedText | None:
    """Read bytes of unknown charset; None when nothing reads them. ``fallback`` says what won.

    Order: a UTF-16 byte order mark; strict UTF-8; UTF-8 with a few bad bytes among many good
    sequences (a broken UTF-8 text, not another charset); the message's declared charset; gb18030 if
    the result reads as Chinese; windows-1252 for lone 8-bit bytes among ASCII; charset_normalizer.
    Big5-labelled bytes stop after UTF-8: the label family is right far more often than a guess.
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
    replaced = _replace(data, "utf-8", "")
    count = replaced.text.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    if _non_ascii(replaced.text) - count >= 3 * count:
        return DecodedText(replaced.text, "utf-8", (replaced.fallback or "").lstrip(": "))
    if big5:
        return None
    hinted = charsets.plan(charsets.normalise_label(hint)) if hint and charsets.hint(hint) else None
    # A multibyte charset the message declares is strong evidence; a single-byte one reads any bytes,
    # so it only comes after gb18030 has had its chance to read as Chinese.
    if hinted and not hinted.single_byte and (found := _first_strict(data, hinted.codecs)):
        return found
    if "gb18030" not in skip:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            pass
        else:
            if _looks_chinese(text):
                return DecodedText(text, "gb18030", "decoded as gb18030")
    if hinted and hinted.single_byte and (found := _first_strict(data, hinted.codecs)):
        return found
    if not _HIGH_RUN.search(data):  # lone 8-bit bytes between ASCII: Windows quotes, accents
        for codec in ("cp1252", "latin-1"):
            try:
                return DecodedText(data.decode(codec), codec, f"decoded as {codec}")
            except UnicodeDecodeError:
                continue
    best = from_bytes(data, cp_isolation=_DETECTABLE).best()
    if best is None:
        return None
    return DecodedText(_strip_bom(str(best)), best.encoding, f"detected as {best.encoding}")


def _first_strict(data: bytes, names: tuple[str, ...]) -> DecodedText | None:
    for codec in names:
        try:
            text = data.decode(codec)
        except UnicodeError:
            continue
        return DecodedText(_strip_bom(text), codec, f"decoded as {codec}, the message's charset")
    return None


def _utf8_text(data: bytes, *, chinese: bool) -> str | None:
    try:
        text = _strip_bom(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if not chinese:
        return text
    sample = text[:_SAMPLE]
    cjk = len(_CJK.findall(sample))
    return text if cjk >= 2 and cjk * 2 > _non_ascii(sample) else None


def _looks_chinese(text: str) -> bool:
    """Whether gb18030 output is Chinese rather than other bytes read as Chinese characters.

    Running Chinese text is mostly GB2312 level-1 characters and punctuation (lead bytes A1-D7).
    Latin-1 and Russian lowercase land in the GBK extension, level 2 or the private-use area, Big5 in
    the extension and private use. Names such as 朱镕基 add a rare character, hence only "half".
    """
    if _PRIVATE_USE.search(text):
        return False
    chars = _NON_ASCII.findall(text[:_SAMPLE])
    common = 0
    for char in chars:
        try:
            common += char.encode("gb2312")[0] <= 0xD7
        except UnicodeEncodeError:
            continue
    return common * 2 >= len(chars)


def _non_ascii(text: str) -> int:
    return len(text) - len(text.encode("ascii", "ignore"))


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


def recover_8bit(value: str, hint: str | None = None) -> tuple[str, str | None]:
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
    guessed = _guess(raw, hint=hint)
    if guessed is not None:
        return guessed.text, f"8-bit header {guessed.fallback}"
    replaced = _replace(raw, "utf-8", "8-bit header")
    return replaced.text, replaced.fallback


def decode_header_value(value: str, hint: str | None = None) -> tuple[str, tuple[str, ...]]:
    """Decode a raw header value: 8-bit bytes, RFC 2047 words (B and Q, any charset), folding.

    Adjacent encoded-words with the same charset are joined as bytes before decoding, because
    mailers split multibyte characters across words although RFC 2047 section 5 forbids it.
    White space between encoded-words is dropped (RFC 2047 section 6.2). Raw 8-bit bytes inside an
    encoded-word are read in the word's charset, outside it by recover_8bit. Returns the text and
    the fallback notes.
    """
    if value.isascii() and "=?" not in value and "\n" not in value and "\r" not in value:
        return value, ()  # most headers: nothing to decode
    value = unfold(value)
    if "=?" not in value:
        text, note = recover_8bit(value, hint)
        return text, (note,) if note else ()
    notes: list[str] = []
    out: list[str] = []
    pending = bytearray()
    pending_charset = ""
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()
        if gap and (not gap.isspace() or position == 0):
            _flush(out, pending, pending_charset, notes)
            out.append(_recovered(gap, hint, notes))
        elif pending and charset != pending_charset:
            _flush(out, pending, pending_charset, notes)
        pending_charset = charset
        pending += _word_bytes(match.group(2), match.group(3))
        position = match.end()
    _flush(out, pending, pending_charset, notes)
    out.append(_recovered(value[position:], hint, notes))
    return "".join(out), tuple(notes)


def _recovered(text: str, hint: str | None, notes: list[str]) -> str:
    text, note = recover_8bit(text, hint)
    if note:
        notes.append(note)
    return text


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
