"""The customer's own words: a mail body without quoted replies, signatures and legal footers.

Language detection and grading must look at the new text only: a one-line Chinese mail with an English
signature and disclaimer reads as English to langdetect, and a reply quoting our acknowledgement would
be graded on our own words. Each cut below is a small named step; they run in order:

1. reply headers: everything from the first header of a quoted message on ("On ... wrote:",
   "-----Original Message-----", "-----原始邮件-----", QQ/Foxmail "------------------ 原始邮件 ---",
   "在 2025年1月6日 ... 写道：", "... 寫道：", Outlook "From:/Sent:" and "发件人:/发送时间:" blocks);
   a "wrote:" line followed by ">" lines is an inline reply, so only the ">" lines go;
2. lines quoted with ">";
3. legal and confidentiality footers, English and Chinese;
4. the signature after the "-- " delimiter, and "Sent from my iPhone"/"发自我的iPhone" lines;
5. a sign-off ("Best regards,", "此致", "谢谢！") followed by a short block (name, title, phone).

These are heuristics for plain text (HTML already turned into text by the parser).
"""

from __future__ import annotations

import re

from pipeline.triage import line_search

# -- 1. reply headers -----------------------------------------------------------------------------

_SEPARATOR_HEADER = re.compile(
    r"^\s*[-=_*]{2,}\s*(?:original message|original|forwarded message|reply message|replied message|"
    r"原始邮件|原始郵件|原邮件|原郵件|回复的原邮件|原始信件|转发邮件|轉寄郵件|转发的邮件)\s*[-=_*]{2,}\s*$",
    re.IGNORECASE,
)
# "On Mon, Jan 6, 2025 at 10:00 AM Zhang San <zs@example.com> wrote:" (may wrap onto a second line),
# and its German, French and Spanish twins.
_WROTE = re.compile(
    r"^\s*(?:On\s.{0,250}\swrote|Am\s.{0,250}\sschrieb.{0,120}|Le\s.{0,250}\sa\s+écrit"
    r"|El\s.{0,250}\sescribió)\s*:\s*$",
    re.IGNORECASE,
)
# "在 2025年1月6日 周一 10:00，张三 <zs@example.com> 写道：", Gmail "张三 于2025年1月6日周一 写道：",
# zh-TW "於 2025年1月6日 週一 上午10:00 寫道：".
_WROTE_ZH = re.compile(r"(?:写道|寫道)\s*[:：]\s*$")
# "\s*(?:[*>]+\s*)?" is "\s*[*>]*\s*" that does not take quadratic time over a long run of spaces.
_HEADER_FROM = re.compile(
    r"^\s*(?:[*>]+\s*)?(?:from|发件人|發件人|寄件者|寄件人|von|de)\s*(?:[*]+\s*)?[:：]", re.IGNORECASE
)
_HEADER_SENT = re.compile(
    r"^\s*(?:[*>]+\s*)?(?:sent|date|发送时间|發送時間|寄件日期|时间|時間|日期|gesendet|datum|envoyé|enviado|fecha)"
    r"\s*(?:[*]+\s*)?[:：]",
    re.IGNORECASE,
)
_RULE_LINE = re.compile(r"^\s*[-_=*]{3,}\s*$")
_HEADER_BLOCK_LINES = 6


def _wrote_lines(lines: list[str], i: int) -> int:
    """How many lines the attribution starting at line i takes: 0 (none), 1, or 2 (wrapped)."""
    line = lines[i]
    if len(line) <= 300 and (_WROTE.match(line) or _WROTE_ZH.search(line)):
        return 1
    # Gmail wraps long attributions: "On Mon, ... Zhang San <" / "zs@example.com> wrote:"
    if i + 1 < len(lines) and line.lstrip().lower().startswith("on "):
        joined = f"{line} {lines[i + 1]}"
        if len(joined) <= 300 and _WROTE.match(joined):
            return 2
    return 0


def _is_header_block(lines: list[str], i: int) -> bool:
    if not _HEADER_FROM.match(lines[i]):
        return False
    return any(_HEADER_SENT.match(line) for line in lines[i + 1 : i + 1 + _HEADER_BLOCK_LINES])


def _next_text_line(lines: list[str], i: int) -> str:
    for line in lines[i + 1 :]:
        if line.strip():
            return line
    return ""


def cut_reply_headers(lines: list[str]) -> list[str]:
    """Lines before the first quoted message; an inline reply keeps its unquoted answers."""
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if attribution := _wrote_lines(lines, i):
            i += attribution
            if _next_text_line(lines, i - 1).lstrip().startswith(">"):
                continue  # inline reply: the ">" lines go in the next step, the answers stay
            return kept
        if _SEPARATOR_HEADER.match(lines[i]) or _is_header_block(lines, i):
            return kept
        kept.append(lines[i])
        i += 1
    return kept


# -- 2. quoted lines ------------------------------------------------------------------------------


def drop_quoted_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.lstrip().startswith((">", "＞"))]


# -- 3. legal footers -----------------------------------------------------------------------------

# A heading is a footer by itself; an opening sentence ("This email and any attachments ...",
# "本邮件及其附件...") only when a confidentiality word follows within three lines, so "This email is
# to report that the router is down" stays.
_FOOTER_HEADING = re.compile(
    r"^\W{0,6}(?:confidentiality\s+(?:notice|note|statement|warning)|disclaimer|important\s+notice"
    r"|legal\s+notice|(?:保密|机密|機密|免责|免責|法律|隐私|隱私)(?:声明|聲明|提示|条款|條款|须知|須知))"
    r"\s*(?:[:：]|$)",
    re.IGNORECASE,
)
_FOOTER_OPENING = re.compile(
    r"^\W{0,6}(?:(?:this|the)\s+(?:e-?mail|message|communication|transmission|information)"
    r"|if\s+you\s+(?:are\s+not|have\s+received\s+this)"
    r"|[本此该該]封?(?:电子|電子)?(?:邮件|郵件|信件|訊息|信息))",
    re.IGNORECASE,
)
_CONFIDENTIAL = re.compile(
    r"confidential|privileged|proprietary|intended\s+(?:solely|only|recipient|for\s+the)|in\s+error"
    r"|保密|机密|機密|私密|秘密|专有|專有|仅供|僅供|仅限|僅限|指定收件人|收件人使用|法律",
    re.IGNORECASE,
)
_FOOTER_LOOKAHEAD = 3


def _opens_footer(lines: list[str], i: int) -> bool:
    if _FOOTER_HEADING.match(lines[i]):
        return True
    if not _FOOTER_OPENING.match(lines[i]):
        return False
    return bool(_CONFIDENTIAL.search(" ".join(lines[i : i + _FOOTER_LOOKAHEAD])))


def cut_footer(lines: list[str]) -> list[str]:
    """Everything before the first line that opens a confidentiality or legal notice."""
    for i in range(len(lines)):
        if _opens_footer(lines, i):
            return lines[:i]
    return lines


# -- 4. signatures --------------------------------------------------------------------------------

_SIG_DELIMITER = re.compile(r"^--\s*$")
_DEVICE_LINE = re.compile(
    r"^\s*(?:sent\s+from\s+my\s+\S.{0,40}|sent\s+from\s+(?:outlook|mail|yahoo\s+mail)\b.{0,40}"
    r"|get\s+outlook\s+for\s+\S+.{0,20}"
    r"|(?:发自|發自|来自|來自)(?:我的)?.{0,20}(?:iphone|ipad|手机|手機|邮箱|郵箱|客户端|客戶端|android|huawei|华为|小米|荣耀|mail).{0,20}"
    r"|从我的.{0,20}(?:发送|發送)"
    r"|從我的.{0,20}(?:傳送|发送|發送))\s*$",
    re.IGNORECASE,
)


def cut_signature(lines: list[str]) -> list[str]:
    """Everything before the "-- " delimiter or a mobile "Sent from" line."""
    for i, line in enumerate(lines):
        if _SIG_DELIMITER.match(line) or _DEVICE_LINE.match(line):
            return lines[:i]
    return lines


# -- 5. sign-off blocks ---------------------------------------------------------------------------

_SIGN_OFF = re.compile(
    r"^\s*(?:(?:best|kind|warm|warmest|many|with\s+best|with\s+kind)\s+(?:regards|wishes|thanks)"
    r"|regards|rgds|br|cheers|sincerely|yours\s+(?:sincerely|faithfully|truly)|best"
    r"|thanks?(?:\s+you)?(?:\s+(?:and|&)\s+(?:best\s+)?regards)?|thank\s+you(?:\s+very\s+much)?|thx|many\s+thanks"
    r"|mit\s+freundlichen\s+grüßen|viele\s+grüße|cordialement|saludos|atentamente"
    r"|此致(?:\s*敬礼|\s*敬禮)?|敬礼|敬禮|顺祝(?:商祺|商安|工作顺利)?|順祝(?:商祺|商安|工作順利)?|祝(?:好|商祺|工作顺利|工作順利)"
    r"|(?:非常|万分|萬分)?(?:谢谢|謝謝|感谢|感謝|多谢|多謝|唔該|唔该)(?:您|你|你们|你們)?(?:的(?:帮助|幫助|支持))?"
    r")\s*(?:[,，.。!！~～]+\s*)?$",  # "\s*[,，.。!！~～]*\s*$", in linear time
    re.IGNORECASE,
)
_SIGNATURE_MAX_LINES = 8
_SIGNATURE_MAX_WIDTH = 80


def _looks_like_signature(block: list[str]) -> bool:
    """At most _SIGNATURE_MAX_LINES lines of text, none wider than _SIGNATURE_MAX_WIDTH; stops at the
    first line that says no (a mail repeating its sign-off would otherwise be read once per sign-off)."""
    text_lines = 0
    for line in block:
        if stripped := line.strip():
            text_lines += 1
            if text_lines > _SIGNATURE_MAX_LINES or len(stripped) > _SIGNATURE_MAX_WIDTH:
                return False
    return True


def cut_sign_off(lines: list[str]) -> list[str]:
    """Everything before a sign-off line that only a short signature block follows."""
    for i in _SIGN_OFF_LINES.lines(lines):
        if i > 0 and _SIGN_OFF.match(lines[i]) and _looks_like_signature(lines[i + 1 :]):
            return lines[:i]
    return lines


# -- all together ---------------------------------------------------------------------------------

STEPS = (cut_reply_headers, drop_quoted_lines, cut_footer, cut_signature, cut_sign_off)


# A step changes nothing unless one of its line patterns matches a line, so each step comes with those
# patterns as one LineSearch over all lines, much cheaper than trying them line by line: where it finds
# nothing the step is skipped. The Gmail attribution wrapped over two lines ends its second line with
# "wrote:" ("wrote" spelled out in both cases: searched ignoring case, it would be tried everywhere).
_SIGN_OFF_LINES = line_search.LineSearch.of((_SIGN_OFF,))
_HINTS = (
    line_search.LineSearch.of(
        (_WROTE, _SEPARATOR_HEADER, _HEADER_FROM), (_WROTE_ZH, re.compile(r"[Ww][Rr][Oo][Tt][Ee]\s*:\s*$"))
    ),
    line_search.LineSearch.of((r"^\s*[>＞]",)),
    line_search.LineSearch.of((_FOOTER_HEADING, _FOOTER_OPENING)),
    line_search.LineSearch.of((_SIG_DELIMITER, _DEVICE_LINE)),
    None,  # cut_sign_off looks for its lines with _SIGN_OFF_LINES itself
)


def _trim(lines: list[str]) -> list[str]:
    """Without blank or rule-only lines at either end (Outlook puts "_____" above a quoted header)."""
    start, end = 0, len(lines)
    while start < end and (not lines[start].strip() or _RULE_LINE.match(lines[start])):
        start += 1
    while end > start and (not lines[end - 1].strip() or _RULE_LINE.match(lines[end - 1])):
        end -= 1
    return lines[start:end]


def customer_words(text: str) -> str:
    """The customer's own words in a mail body; "" when the body is nothing but quotes and signature."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    left = text.split("\n")
    searched = line_search.LINE + text.replace("\n", line_search.LINE)  # line_search.joined(left), for the hints
    trimmed = False
    for step, hint in zip(STEPS, _HINTS, strict=True):
        if hint is None or hint.found(searched):
            kept = _trim(step(left))
        elif not trimmed:  # a skipped step changes nothing, and trimming twice is trimming once
            kept = _trim(left)
        else:
            continue
        trimmed = True
        if len(kept) != len(left):  # steps only take lines away
            left, searched = kept, line_search.joined(kept)
    return "\n".join(map(str.rstrip, left))
