"""Which MIME parts are the body and which are attachments, walked depth-first over a compat32 tree.

- multipart/alternative: the child holding text/plain is the body; an HTML child is kept as ``html``.
- multipart/related: the root (``start`` or the first child) is the body, the rest (cid images) are
  inline attachments.
- message/rfc822 forwarded by a person: its From/Date/Subject/To and text are appended to ``text``
  under a "Forwarded message" line, as mail clients show an inline forward, and its attachments join
  ours. Inside multipart/report (a bounce) the returned message is our own mail: it is kept whole as
  an .eml attachment instead, and only its Message-ID is read.
- winmail.dat is unpacked (tnef.py) into its body and attachments.

A part that fails for any reason becomes a defect note; it never loses the rest of the message.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32

from pipeline import errors, records
from pipeline.mail import addresses, decode, filenames, html, tnef, transfer

BODY, ALTERNATIVE, ATTACHED, RETURNED = "body", "alternative", "attached", "returned"
_EXTENSIONS = {
    "text/plain": ".txt", "text/html": ".html", "text/calendar": ".ics", "text/rfc822-headers": ".txt",
    "message/rfc822": ".eml", "message/global": ".eml", "message/delivery-status": ".txt",
    "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "application/pdf": ".pdf",
    "application/ms-tnef": ".dat", "application/pgp-signature": ".asc",
}  # fmt: skip
_TNEF_TYPES = frozenset(["application/ms-tnef", "application/vnd.ms-tnef"])
_HEADER_TYPES = frozenset(["text/rfc822-headers", "message/global-headers"])
HTML_TEXT_LIMIT = 1_000_000


def no_hint() -> str | None:
    return None


@dataclass
class Walk:
    """What the walk collected; parse.py turns it into ParsedMail fields."""

    max_depth: int
    linesep: str = "\n"
    hint: Callable[[], str | None] = no_hint  # a charset the message declares, computed when needed
    texts: list[str] = field(default_factory=list)
    html: str | None = None
    attachments: list[records.Attachment] = field(default_factory=list)
    part_types: list[str] = field(default_factory=list)
    embedded_ids: list[str] = field(default_factory=list)
    decoding: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def visit(self, part: Message, depth: int = 0, mode: str = BODY, parent: str = "") -> None:
        if depth > self.max_depth:
            raise errors.UnprocessableMail(f"MIME nesting deeper than {self.max_depth} levels")
        index = len(self.part_types)
        ctype = part.get_content_type()
        self.part_types.append(ctype)
        self.defects.extend(f"part {index}: {type(defect).__name__}" for defect in part.defects)
        try:
            # get_payload() only on containers: on a leaf it decodes an 8-bit body with the charset
            # label (and raises TypeError for an RFC 2231 charset*=); leaves go through _raw_payload.
            payload = part.get_payload() if part.is_multipart() else None
            if isinstance(payload, list) and ctype == "message/delivery-status":
                content = b"".join(self._flatten(block) for block in payload if isinstance(block, Message))
                self._attach(_Part(part, ctype, index), content, mode)
            elif isinstance(payload, list) and ctype.startswith("message/"):
                self._message(_Part(part, ctype, index), payload, depth, mode, parent)
            elif isinstance(payload, list):
                self._multipart(part, ctype, payload, depth, mode)
            else:
                self._leaf(_Part(part, ctype, index), mode)
        except errors.UnprocessableMail:
            raise
        except Exception as exc:  # the per-part guard: one broken part must not lose the message
            self.defects.append(f"part {index} ({ctype}): unreadable, {type(exc).__name__}: {exc}"[:200])

    def _multipart(self, part: Message, ctype: str, children: list[Message], depth: int, mode: str) -> None:
        chosen = -1
        if ctype == "multipart/alternative" and mode in (BODY, ALTERNATIVE):
            chosen = _preferred(children, self.max_depth - depth)
        elif ctype == "multipart/related" and mode in (BODY, ALTERNATIVE):
            chosen = _related_root(part, children)
        for position, child in enumerate(children):
            child_mode = mode
            if chosen >= 0 and position != chosen:
                child_mode = ALTERNATIVE if ctype == "multipart/alternative" else ATTACHED
            self.visit(child, depth + 1, child_mode, ctype)

    def _message(self, part: _Part, payload: list[Message], depth: int, mode: str, parent: str) -> None:
        inner = payload[0] if payload and isinstance(payload[0], Message) else Message()
        encoding = part.header("content-transfer-encoding").strip().lower()
        if encoding in ("base64", "quoted-printable"):  # forbidden by RFC 2046, sent anyway: reparse
            content, _ = transfer.decode_body(self._flatten(inner), encoding)
            inner = BytesParser(policy=compat32).parsebytes(content)
        self.embedded_ids.extend(addresses.message_ids(_Part(inner, "", 0).header("message-id")))
        if mode == BODY and parent != "multipart/report":
            self.texts.append(self._forward_heading(inner, part.index))
            self.visit(inner, depth + 1, BODY, part.ctype)
            return
        if mode != RETURNED:
            self._attach(part, self._flatten(inner), mode)
        self.visit(inner, depth + 1, RETURNED, part.ctype)

    def _forward_heading(self, inner: Message, index: int) -> str:
        lines = ["---------- Forwarded message ----------"]
        heads = _Part(inner, "", index)
        for name in ("From", "Date", "Subject", "To", "Cc"):
            raw = heads.header(name.lower())
            if raw:
                text, notes = decode.decode_header_value(raw, None if raw.isascii() else self.hint())
                self.decoding.extend(f"part {index} {name.lower()}: {note}" for note in notes)
                lines.append(f"{name}: {text.strip()}")
        return "\n".join(lines)

    def _leaf(self, part: _Part, mode: str) -> None:
        content, problem = transfer.decode_body(_raw_payload(part.message), part.header("content-transfer-encoding"))
        if problem:
            self.defects.append(f"part {part.index}: {problem}")
        if part.ctype in _HEADER_TYPES:
            self.embedded_ids.extend(_header_ids(content))
        if mode == RETURNED:
            return
        name = self._filename(part)
        if (part.ctype in _TNEF_TYPES or (name or "").lower() == "winmail.dat") and tnef.is_tnef(content):
            try:
                self._tnef(tnef.unpack(content), mode, part.index)
                return
            except ValueError as exc:
                self.defects.append(f"part {part.index}: winmail.dat kept as is, {exc}"[:200])
        textual = part.ctype in ("text/plain", "text/html") or part.ctype.startswith("multipart/")
        if mode in (BODY, ALTERNATIVE) and textual and not name and part.disposition != "attachment":
            self._text(part, content, mode)
        else:
            self._attach(part, content, mode, name)

    def _text(self, part: _Part, content: bytes, mode: str) -> None:
        label = part.params.get("charset")
        if part.ctype == "text/html" and not label:
            label = html.meta_charset(content)
        decoded = decode.decode_text(content, label)
        if decoded.fallback and self.hint():  # a charset declared elsewhere beats a guess
            decoded = decode.decode_text(content, label, self.hint())
        if decoded.fallback:
            self.decoding.append(f"part {part.index} ({part.ctype}): {decoded.fallback}")
        text = decoded.text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        if part.ctype == "text/html":
            if self.html is None:
                self.html = text
            if mode == BODY:
                if len(text) > HTML_TEXT_LIMIT:  # html.parser reads about 1 MB/s; the words come first
                    self.defects.append(f"part {part.index}: text made from the first {HTML_TEXT_LIMIT} characters")
                self.texts.append(html.html_to_text(text[:HTML_TEXT_LIMIT]))
        elif mode == BODY:  # text/plain, or a multipart that lost its boundary
            self.texts.append(text)

    def _tnef(self, content: tnef.TnefContent, mode: str, index: int) -> None:
        self.decoding.extend(f"part {index}: {note}" for note in content.notes)
        if mode == BODY and content.text and not "".join(self.texts).strip():
            self.texts.append(content.text)  # Outlook often leaves the text/plain next to it empty
        if self.html is None and content.html:
            self.html = content.html
        self.attachments.extend(content.attachments)

    def _filename(self, part: _Part) -> str | None:
        raw = part.header("content-disposition") + part.header("content-type")
        hint = None if raw.isascii() else self.hint()
        name, notes = filenames.param_text(part.disposition_params, "filename", hint)
        if not name:
            name, notes = filenames.param_text(part.params, "name", hint)
        self.decoding.extend(f"part {part.index} filename: {note}" for note in notes)
        return name or None

    def _attach(self, part: _Part, content: bytes, mode: str, name: str | None = None) -> None:
        if mode == RETURNED:
            return
        name = name or self._filename(part)
        content_id = decode.recover_8bit(part.header("content-id"))[0].strip().strip("<>").strip()
        self.attachments.append(
            records.Attachment(
                filename=filenames.safe_filename(name, f"part{part.index}{_EXTENSIONS.get(part.ctype, '.bin')}"),
                content_type=part.ctype,
                content=content,
                content_id=content_id or None,
                inline=part.disposition == "inline" or (not part.disposition and bool(content_id)),
            )
        )

    def _flatten(self, message: Message) -> bytes:
        """A parsed message back as bytes. compat32 keeps raw header values and leaf bodies, so a
        leaf is rebuilt exactly; multiparts go through BytesGenerator, which may refold headers."""
        if message.is_multipart():
            out = io.BytesIO()
            policy = compat32.clone(linesep=self.linesep)
            BytesGenerator(out, mangle_from_=False, policy=policy).flatten(message)
            return out.getvalue()
        head = "".join(f"{name}: {value}{self.linesep}" for name, value in message.raw_items())
        return (head + self.linesep).encode("utf-8", "surrogateescape") + _raw_payload(message)


class _Part:
    """One part with its raw header values (8-bit bytes as surrogates) read once.

    compat32's ``get`` would hand back a Header object for 8-bit values and lose the bytes.
    """

    def __init__(self, message: Message, ctype: str, index: int) -> None:
        self.message, self.ctype, self.index = message, ctype, index
        self.raw: dict[str, str] = {}
        for name, value in message.raw_items():
            self.raw.setdefault(name.lower(), value if isinstance(value, str) else str(value))
        self.params = filenames.parse_params(self.header("content-type"))[1] if ctype else {}
        self.disposition, self.disposition_params = filenames.parse_params(self.header("content-disposition"))

    def header(self, name: str) -> str:
        return self.raw.get(name, "")


def _raw_payload(message: Message) -> bytes:
    """The leaf's body bytes exactly as they arrived.

    Read from ``_payload`` as BytesGenerator does: compat32's ``get_payload()`` decodes an 8-bit
    payload with the part's charset label and errors="replace", the very garbling this stage avoids.
    """
    payload = message._payload  # type: ignore[attr-defined]
    if isinstance(payload, bytes):
        return payload
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _header_ids(content: bytes) -> tuple[str, ...]:
    headers = BytesHeaderParser(policy=compat32).parsebytes(content)
    return addresses.message_ids(_Part(headers, "", 0).header("message-id"))


def _preferred(children: list[Message], depth_left: int) -> int:
    """Index of the alternative to read: the first holding text/plain, else text/html, else the last."""
    found = [_leaf_types(child, depth_left) for child in children]
    for wanted in ("text/plain", "text/html"):
        for position, types in enumerate(found):
            if wanted in types:
                return position
    return len(children) - 1


def _leaf_types(part: Message, depth_left: int) -> set[str]:
    found: set[str] = set()
    stack = [(part, 0)]
    while stack:
        current, depth = stack.pop()
        if current.is_multipart():
            if depth < depth_left and current.get_content_maintype() == "multipart":
                stack.extend((child, depth + 1) for child in current.get_payload() if isinstance(child, Message))
        elif _Part(current, "", 0).disposition != "attachment":
            found.add(current.get_content_type())
    return found


def _related_root(part: Message, children: list[Message]) -> int:
    start = _Part(part, "multipart/related", 0).params.get("start", "").strip().strip("<>")
    if start:
        for position, child in enumerate(children):
            if _Part(child, "", 0).header("content-id").strip().strip("<>") == start:
                return position
    return 0
