"""Why a mail must get no automatic acknowledgement: it is automatic itself, or it would start a loop.

Each check is a small function `(mail, rules, own) -> reason | None`; CHECKS lists them in the order
they are asked, and the first reason is stored with the message so the dashboard shows why no ack
went out. The mail still becomes (or joins) a ticket: these checks only silence our answer.
Sources: RFC 3834, RFC 3464, [MS-OXCMAIL], and what Zammad, Request Tracker, osTicket and FreeScout
check (domain.md §2). Reasons start with a category: "loop", "own address", "bounce", "receipt", "report",
"auto-reply", "list", "bulk", "no auto-reply wanted", "robot sender", "null sender".

Decisions:
* `X-Auto-Response-Suppress` alone is a *request* (the sender asks for no automatic answer), not a
  sign the mail is automatic. We honour it when it covers our acknowledgement (`All` or
  `AutoReply`), with its own category. `DR`, `NDR`, `RN`, `NRN`, `OOF` do not cover an ack.
  Exchange's own out-of-office messages carry `X-Auto-Response-Suppress: All` *and*
  `X-MS-Exchange-Inbox-Rules-Loop`; that pair is reported as an auto-reply.
* Any `X-Loop` header means some robot has handled the mail already (procmail, list servers,
  ticket systems): no answer. Our own loop header (`X-Intake-Loop` by default) is named in the policy.
* `Precedence: list` counts (RFC 3834 §2 names it); RT leaves it out, Zammad and Exim do not.
* `Return-Path: <>` is reported as "null sender": bounces have it, but so do well-behaved
  auto-replies, so it alone does not make a bounce.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.records import ParsedMail
from pipeline.triage import patterns, reply


@dataclass(frozen=True)
class AutomaticRules:
    ooo_subject: patterns.Matcher  # out-of-office subjects, matched after "Re:"-style prefixes
    bounce_subject: patterns.Matcher
    robot_sender: patterns.Matcher  # addresses that never read an answer: no-reply, bounces...
    daemon_sender: patterns.Matcher  # addresses that send bounces: MAILER-DAEMON, postmaster
    loop_headers: tuple[str, ...]  # lower case, e.g. ("x-intake-loop",)

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> AutomaticRules:
        table = patterns.section(policy, "automatic")

        def compiled(key: str) -> patterns.Matcher:
            where = f"automatic.{key}"
            return patterns.compile_any(regexes=patterns.string_list(table, key, where="automatic"), where=where)

        loop_headers = patterns.string_list(table, "loop_headers", where="automatic")
        return cls(
            ooo_subject=compiled("ooo_subjects"),
            bounce_subject=compiled("bounce_subjects"),
            robot_sender=compiled("robot_senders"),
            daemon_sender=compiled("daemon_senders"),
            loop_headers=tuple(name.lower() for name in loop_headers),
        )


@dataclass(frozen=True)
class Own:
    """Our service addresses and domains, lower case."""

    addresses: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    def has_domain(self, address_or_id: str) -> str | None:
        domain = address_or_id.rpartition("@")[2].strip().strip(">").lower()
        for own in self.domains:
            if domain == own or domain.endswith("." + own):
                return own
        return None


Check = Callable[[ParsedMail, AutomaticRules, Own], str | None]


def _value(mail: ParsedMail, name: str) -> str | None:
    value = mail.header(name)
    return None if value is None else " ".join(value.split())


def _token(value: str) -> str:
    """The first token of a structured header: "auto-replied; owner-email=..." -> "auto-replied"."""
    return value.split(";", 1)[0].strip().lower()


# -- loops ----------------------------------------------------------------------------------------


def own_loop_header(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    for name in rules.loop_headers:
        if mail.header(name) is not None:
            return f"loop: {_display(name)} present"
    return None


def x_loop(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    value = _value(mail, "x-loop")
    return None if value is None else f"loop: X-Loop: {value}"


def own_address(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    if mail.from_addr and mail.from_addr.lower() in own.addresses:
        return "own address"
    domain = own.has_domain(mail.from_addr) if mail.from_addr else None
    return None if domain is None else f"own address: domain {domain}"


def own_message_id(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    """A Message-ID on our domain that comes back in: our own mail, relayed or reflected."""
    if mail.message_id and "@" in mail.message_id and own.has_domain(mail.message_id):
        return "loop: Message-ID on own domain"
    return None


# -- bounces and receipts -------------------------------------------------------------------------


def delivery_report(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    parts = set(mail.part_types)
    content_type = (mail.header("content-type") or "").lower()
    if mail.content_type == "multipart/report":
        if "report-type=delivery-status" in content_type.replace('"', "") or _has_status_part(parts):
            return "bounce: multipart/report delivery-status"
        if "disposition-notification" in content_type or "message/disposition-notification" in parts:
            return "receipt: multipart/report disposition-notification"
        return "report: multipart/report"
    if _has_status_part(parts):
        return "bounce: message/delivery-status part"
    if "message/disposition-notification" in parts:
        return "receipt: message/disposition-notification part"
    return None


def _has_status_part(parts: set[str]) -> bool:
    return bool(parts & {"message/delivery-status", "message/global-delivery-status"})


def failed_recipients(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    value = _value(mail, "x-failed-recipients")
    return None if value is None else f"bounce: X-Failed-Recipients: {value}"


def bounce_subject(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    subject = reply.strip_subject_prefixes(mail.subject)
    if rules.bounce_subject.search(patterns.Haystack.of(subject)):
        return f"bounce: subject '{subject}'"
    return None


def daemon_sender(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    """The address (MAILER-DAEMON@, postmaster@) or the display name ("Mail Delivery Subsystem")."""
    for shown in (mail.from_addr, mail.from_name):
        if shown and rules.daemon_sender.search(patterns.Haystack.of(shown)):
            return f"bounce: sender {shown}"
    return None


# -- auto-replies ---------------------------------------------------------------------------------


def auto_submitted(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    """RFC 3834 §2: any value but "no" (auto-generated, auto-replied, auto-notified, vacation...)."""
    value = _value(mail, "auto-submitted")
    if value is None or _token(value) in ("no", ""):
        return None
    return f"auto-reply: Auto-Submitted: {value}"


_AUTOREPLY_HEADERS = (
    "x-autoreply",
    "x-autorespond",
    "x-autoresponse",
    "x-autoreply-from",
    "x-mail-autoreply",
)


def autoreply_headers(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    """Vendor markers (osTicket, FreeScout): present with any value but "no"."""
    for name in _AUTOREPLY_HEADERS:
        value = _value(mail, name)
        if value is not None and _token(value) not in ("no", "false", "0"):
            return f"auto-reply: {_display(name)}: {value}"
    generated = _value(mail, "x-autogenerated")
    if generated is not None and _token(generated) == "reply":
        return f"auto-reply: X-Autogenerated: {generated}"
    return None


def exchange_oof(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    suppress = _suppress_values(mail)
    if "all" in suppress and mail.header("x-ms-exchange-inbox-rules-loop") is not None:
        return "auto-reply: Exchange out-of-office (X-Auto-Response-Suppress + X-MS-Exchange-Inbox-Rules-Loop)"
    return None


def precedence(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    for name in ("precedence", "x-precedence"):
        value = _value(mail, name)
        token = _token(value) if value else ""
        if token in ("auto_reply", "auto-reply"):
            return f"auto-reply: {_display(name)}: {value}"
        if token == "list":
            return f"list: {_display(name)}: {value}"
        if token in ("bulk", "junk"):
            return f"bulk: {_display(name)}: {value}"
    return None


def ooo_subject(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    subject = reply.strip_subject_prefixes(mail.subject)
    if rules.ooo_subject.search(patterns.Haystack.of(subject)):
        return f"auto-reply: subject '{subject}'"
    return None


def machine_generated(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    """Headers robots set: RT's X-FC-Machinegenerated, cron's X-Cron-Env, Amazon SES notifications."""
    if (_value(mail, "x-fc-machinegenerated") or "").lower() == "true":
        return "auto-reply: X-FC-Machinegenerated: true"
    if mail.header("x-cron-env") is not None:
        return "auto-reply: X-Cron-Env present"
    if (_value(mail, "x-amazon-mail-relay-type") or "").lower() == "notification":
        return "auto-reply: X-AMAZON-MAIL-RELAY-TYPE: notification"
    return None


# -- lists and requests ---------------------------------------------------------------------------

# Mailing-List is ezmlm's own header; the others are RFC 2369 / RFC 2919.
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help", "list-subscribe", "list-owner",
                 "mailing-list")


def list_headers(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    for name in _LIST_HEADERS:
        value = mail.header(name)
        if value is not None and value.strip():
            return f"list: {_display(name)} present"
    return None


def suppress_request(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    suppress = _suppress_values(mail)
    if suppress & {"all", "autoreply"}:
        return f"no auto-reply wanted: X-Auto-Response-Suppress: {_value(mail, 'x-auto-response-suppress')}"
    return None


def _suppress_values(mail: ParsedMail) -> set[str]:
    value = mail.header("x-auto-response-suppress") or ""
    return {token.strip().lower() for token in value.split(",") if token.strip()}


# -- senders --------------------------------------------------------------------------------------


def robot_sender(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    if not mail.from_addr:
        return "robot sender: empty From"
    if rules.robot_sender.search(patterns.Haystack.of(mail.from_addr)):
        return f"robot sender: {mail.from_addr}"
    return None


def null_sender(mail: ParsedMail, rules: AutomaticRules, own: Own) -> str | None:
    return "null sender: Return-Path <>" if mail.return_path == "" else None


def _display(header: str) -> str:
    """ "x-ms-exchange" -> "X-Ms-Exchange": headers are stored lower case."""
    return "-".join(part.capitalize() for part in header.split("-"))


CHECKS: tuple[Check, ...] = (
    own_loop_header,
    x_loop,
    own_address,
    own_message_id,
    delivery_report,
    failed_recipients,
    bounce_subject,
    daemon_sender,
    auto_submitted,
    autoreply_headers,
    exchange_oof,
    ooo_subject,
    machine_generated,
    precedence,
    list_headers,
    suppress_request,
    robot_sender,
    null_sender,
)
BOUNCE_CHECKS: tuple[Check, ...] = (delivery_report, failed_recipients, bounce_subject, daemon_sender)


def automatic_reason(
    mail: ParsedMail,
    rules: AutomaticRules,
    own_addresses: frozenset[str] = frozenset(),
    own_domains: frozenset[str] = frozenset(),
) -> str | None:
    """Why no acknowledgement may answer this mail, or None for a human's mail."""
    own = Own(
        frozenset(address.lower() for address in own_addresses),
        frozenset(domain.lower().lstrip("@") for domain in own_domains),
    )
    for check in CHECKS:
        reason = check(mail, rules, own)
        if reason is not None:
            return reason
    return None


def bounce_reason(mail: ParsedMail, rules: AutomaticRules) -> str | None:
    """Why this is a delivery failure report, or None. Read receipts are not bounces."""
    for check in BOUNCE_CHECKS:
        reason = check(mail, rules, Own())
        if reason is not None and reason.startswith("bounce"):
            return reason
    return None


def is_bounce(mail: ParsedMail, rules: AutomaticRules) -> bool:
    """A delivery failure report: link it to our mail through `mail.embedded_message_ids`."""
    return bounce_reason(mail, rules) is not None
