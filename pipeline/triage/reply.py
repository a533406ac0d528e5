"""Which ticket a mail answers: the number in its subject, the Message-IDs it replies to.

Our ticket numbers look like "SR-000042" (prefix, hyphen, six digits or more); our acknowledgements
are titled "[SR-000042] <original subject>", or "【SR-000042】 ..." in Chinese. Customers' mailers add
"Re:", "回复：", "答复:", "Fwd:", "转发:" and the like in front, in any case and with full-width colons,
and customers retype numbers ("sr-42", "SR 000042", full-width "ＳＲ－０００４２").
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.records import ParsedMail
from pipeline.triage import patterns

# Reply and forward markers in the languages our customers' mailers speak: English, Chinese
# (Outlook zh-CN writes 答复/转发, zh-TW 回覆/轉寄, QQ/Foxmail 回复/转发), German AW/WG, Nordic SV/VS,
# French TR, Spanish RV, Italian R, Dutch Antw, plus counters such as "Re[2]:" and "RE(3):".
_MARKERS = "re|aw|sv|vs|antw|r|rv|tr|fwd|fw|wg|回复|回覆|回復|答复|答覆|转发|轉發|转寄|轉寄|回信"
_PREFIX = re.compile(rf"^\s*(?:{_MARKERS})\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*", re.IGNORECASE)


@lru_cache(maxsize=16)
def _ticket_pattern(prefix: str) -> re.Pattern[str]:
    # A hyphen, underscore or "#" may precede any number of digits; a space or nothing needs six
    # digits, so "SR 2 fibres" is not a ticket.
    return re.compile(
        rf"{patterns.BEFORE}{re.escape(prefix)}\s*(?:[-_#]\s*(\d{{1,12}})|\s?(\d{{6,12}})){patterns.AFTER}",
        re.IGNORECASE,
    )


@lru_cache(maxsize=16)
def _tag_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*[\[【(（［]\s*{re.escape(prefix)}\s*[-_#－]?\s*\d+\s*[\]】)）］]\s*", re.IGNORECASE)


def ticket_ref(subject: str, prefix: str = "SR") -> str | None:
    """The canonical ticket number in a subject ("SR-000042"), the leftmost if there are several."""
    match = _ticket_pattern(prefix).search(patterns.normalize(subject))
    if match is None:
        return None
    number = int(match.group(1) or match.group(2))
    return f"{prefix}-{number:06d}"


@lru_cache(maxsize=64)  # asked several times per mail: language fallback, automatic-reply checks
def strip_subject_prefixes(subject: str, ticket_prefix: str = "SR") -> str:
    """The subject without leading "Re:"/"回复："/"Fwd:"... markers and our "[SR-000042]" tag."""
    text = subject
    tag = _tag_pattern(ticket_prefix)
    while True:
        stripped = _without_match(tag, _without_match(_PREFIX, text))
        if stripped == text:
            return text.strip()
        text = stripped


def _without_match(anchored: re.Pattern[str], text: str) -> str:
    """pattern.sub("", text, count=1) for a pattern that starts with "^"."""
    match = anchored.match(text)
    return text[match.end() :] if match else text


def _message_id(value: str) -> str:
    return value.strip().strip("<>").strip()


def thread_ids(mail: ParsedMail) -> tuple[str, ...]:
    """Message-IDs this mail answers: In-Reply-To first, then References as written; no duplicates."""
    seen: dict[str, None] = {}
    for value in (*mail.in_reply_to, *mail.references):
        message_id = _message_id(value)
        if message_id:
            seen.setdefault(message_id, None)
    return tuple(seen)
