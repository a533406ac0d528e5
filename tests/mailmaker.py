"""Build raw test messages by hand, the way real mailers write them."""

from __future__ import annotations

import base64
import itertools

_counter = itertools.count(1)


def word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def make_mail(
    subject: str = "Line card failure",
    body: str = "A line card failed.",
    sender: str = "ann@mill.example.com",
    *,
    name: str = "",
    charset: str = "utf-8",
    message_id: str | None = "auto",
    headers: dict[str, str] | None = None,
    to: str = "service@support.example",
) -> bytes:
    if message_id == "auto":
        message_id = f"test-{next(_counter)}-{abs(hash((subject, body, sender)))}@mill.example.com"
    lines = [f"From: {word(name, charset) + ' ' if name else ''}<{sender}>", f"To: {to}",
             f"Subject: {word(subject, charset) if not subject.isascii() or chr(10) in subject else subject}"]
    if message_id:
        lines.append(f"Message-ID: <{message_id}>")
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    lines += ["MIME-Version: 1.0", f'Content-Type: text/plain; charset="{charset}"',
              "Content-Transfer-Encoding: base64", ""]
    encoded = base64.encodebytes(body.encode("gb18030" if charset.lower() in {"gb2312", "gbk"} else charset))
    return ("\r\n".join(lines) + "\r\n").encode() + encoded.replace(b"\n", b"\r\n")
