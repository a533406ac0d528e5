"""Pure triage: what a mail or a call says about language, severity, loops and escalation.

Nothing here reads a clock, the environment or a database: the policy comes in as `TriageRules`
(built once at startup from the policy dict) and our own addresses as arguments.

    rules = triage.TriageRules.from_policy(policy.load_policy(), ticket_prefix="SR")
    result = triage.triage_mail(mail, rules, own_addresses=..., own_domains=...)
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.records import ParsedMail, Severity, Triage
from pipeline.triage import automatic, escalation, language, needles, quotes, reply, severity


@dataclass(frozen=True)
class TriageRules:
    severity: severity.SeverityRules
    automatic: automatic.AutomaticRules
    escalation: escalation.EscalationRules
    ticket_prefix: str = "SR"

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any], ticket_prefix: str = "SR") -> TriageRules:
        """Compile the [severity], [automatic] and [escalation] tables; ConfigError names a bad key."""
        grading = severity.SeverityRules.from_policy(policy)
        escalating = escalation.EscalationRules.from_policy(policy)
        shared = needles.Index.of(itertools.chain(grading.anchors(), escalating.anchors()))
        return cls(
            severity=dataclasses.replace(grading, index=shared),
            automatic=automatic.AutomaticRules.from_policy(policy),
            escalation=dataclasses.replace(escalating, index=shared),
            ticket_prefix=ticket_prefix,
        )


def triage_mail(
    mail: ParsedMail,
    rules: TriageRules,
    *,
    own_addresses: frozenset[str] = frozenset(),
    own_domains: frozenset[str] = frozenset(),
) -> Triage:
    """Everything triage decides about one parsed mail.

    Grading and escalation read the subject and the customer's own words; when the customer wrote
    nothing of their own (a bare forward), they read the whole body instead.
    """
    words = quotes.customer_words(mail.text)
    graded_text = words or mail.text
    level, why = severity.grade(mail.subject, graded_text, rules.severity)
    bounce = automatic.is_bounce(mail, rules.automatic)
    return Triage(
        language=language.detect_language(
            words, fallback=reply.strip_subject_prefixes(mail.subject, rules.ticket_prefix)
        ),
        severity=level,
        severity_reason=why,
        automatic=automatic.automatic_reason(mail, rules.automatic, own_addresses, own_domains),
        ticket_ref=reply.ticket_ref(mail.subject, rules.ticket_prefix),
        thread_ids=reply.thread_ids(mail),
        text=words,
        escalation=escalation.escalation_reason(mail.subject, graded_text, rules.escalation),
        bounce_of=mail.embedded_message_ids if bounce else (),
    )


def grade_text(text: str, rules: TriageRules) -> tuple[Severity, str]:
    """Severity of plain text, such as a hotline call's transcript."""
    return severity.grade("", text, rules.severity)
