"""Notice a customer who complains or asks for a manager, so a lead sees the ticket at once.

The rules are the named tables of the policy's [escalation] section (pipeline/policy/triage.toml),
each with phrases and/or regexes; the first rule (in file order) that matches gives the reason.
Negation is not understood: "没有投诉的意思" still counts as a complaint, which errs on the side of a
human reading it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.triage import needles, patterns

GRADE_CHARS = 5000  # as in severity: the complaint is stated early


@dataclass(frozen=True)
class EscalationRules:
    rules: tuple[patterns.NamedPattern, ...]
    # Every rule's needles, or more: TriageRules gives grading and escalation one index, so the
    # needles of a mail are searched once.
    index: needles.Index | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.index is None:
            object.__setattr__(self, "index", needles.Index.of(self.anchors()))

    def anchors(self) -> Iterator[needles.Anchor | None]:
        return (anchor for rule in self.rules for anchor in rule.matcher.anchors)

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> EscalationRules:
        table = patterns.section(policy, "escalation")
        return cls(
            tuple(
                patterns.NamedPattern.from_table(name, rule, where=f"escalation.{name}") for name, rule in table.items()
            )
        )


def escalation_reason(subject: str, text: str, rules: EscalationRules) -> str | None:
    """Why this needs a lead ("complaint rule matched '投诉'"), or None."""
    haystack = patterns.Haystack.of(f"{subject}\n{text[:GRADE_CHARS]}")
    occurrences = rules.index.find(haystack.folded)  # type: ignore[union-attr]
    for rule in rules.rules:
        found = rule.matcher.search(haystack, occurrences)
        if found:
            return f"{rule.name} rule matched '{found.text}'"
    return None
