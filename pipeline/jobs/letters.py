"""What each scheduled job says: the template context of every kind, in the reader's language and zone.

The planner renders a job when it creates or moves it; escalations are rendered again when they are
sent, so "how late" is true at that moment. Templates live in templates/<kind>/<language>.{subject,txt,
html}; an SMS is the .txt part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline import render
from pipeline.jobs import ics
from pipeline.sla import clock, deadlines, workdays
from pipeline.store import models
from pipeline.tickets.acks import format_local

TARGETS = {
    "next_business_day": {"zh-Hans": "下一工作日下班前", "zh-Hant": "下一工作日下班前",
                          "en": "close of the next business day"},
}
UNITS = {
    "zh-Hans": ("天", "小时", "分钟", "个工作日"),
    "zh-Hant": ("天", "小時", "分鐘", "個工作日"),
    "en": (" d", " h", " min", " business days"),
}


def duration_words(length: timedelta, language: str) -> str:
    """'1 h 5 min' / '1 小时 5 分钟'; never negative."""
    day, hour, minute, _ = UNITS.get(language, UNITS["en"])
    minutes = max(0, int(length.total_seconds() // 60))
    parts = [(minutes // 1440, day), (minutes % 1440 // 60, hour), (minutes % 60, minute)]
    separator = " " if minute.startswith(" ") else ""
    return separator.join(f"{n}{unit}" for n, unit in parts if n) or f"0{minute}"


def target_words(text: str | None, language: str) -> str:
    """A policy duration as people read it: "4h" -> "4 h", "5bd" -> "5 business days"."""
    if not text:
        return ""
    if text in TARGETS:
        return TARGETS[text].get(language, TARGETS[text]["en"])
    if text.endswith("bd") and text[:-2].isdigit():
        return f"{text[:-2]}{UNITS.get(language, UNITS['en'])[3]}"
    length = clock.parse_duration(text)
    return duration_words(length.length, language) if length else text


@dataclass(frozen=True)
class Facts:
    """Everything a letter may mention; None where the job has no such thing."""

    kind: str
    language: str
    zone: str  # the reader's time zone
    ticket: models.Ticket | None = None
    customer: models.Customer | None = None
    clock: str | None = None
    visit: models.Visit | None = None
    call: models.Call | None = None
    tickets: tuple[dict[str, Any], ...] = ()  # survey: the tickets resolved last month
    month: str | None = None
    name: str | None = None  # the person a customer's letter greets, when no ticket names them


def context(facts: Facts, service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar,
            now: datetime) -> dict[str, Any]:
    ticket, language = facts.ticket, facts.language
    service = _customer_policy(service, facts)
    due = getattr(ticket, f"{facts.clock}_due") if ticket is not None and facts.clock else None
    visit = facts.visit
    return {
        "kind": facts.kind,
        "language": language,
        "ticket": ticket,
        "number": ticket.number if ticket is not None else "",
        "subject": ticket.subject if ticket is not None else "",
        "customer": _customer_name(facts),
        "person": facts.name or (ticket.requester_name if ticket is not None else None) or "",
        "contact": ticket.requester if ticket is not None else "",
        "severity_name": deadlines.level_name(service, ticket.severity, language) if ticket is not None else "",
        "clock": facts.clock or "",
        "received": format_local(ticket.received_at, facts.zone) if ticket is not None else None,
        "due": format_local(due, facts.zone),
        "limit": target_words(_target(service, calendar, ticket, facts.clock), language),
        "late": duration_words(now - due, language) if due is not None and now > due else "",
        "reason": ticket.escalation_reason or "" if ticket is not None else "",
        "visit": None if visit is None else {
            "kind": visit.kind, "mode": visit.mode, "date": visit.date.isoformat(),
            "time": format_local(visit.starts_at, facts.zone) if visit.starts_at else visit.date.isoformat(),
        },
        "call": None if facts.call is None else {
            "from": facts.call.from_number or "",
            "callback_due": format_local(facts.call.callback_due, facts.zone),
        },
        "tickets": list(facts.tickets),
        "month": facts.month or "",
    }


def letter(templates: render.Templates, facts: Facts, service: deadlines.ServicePolicy,
           calendar: workdays.WorkCalendar, now: datetime) -> render.Rendered:
    return templates.render(facts.kind, facts.language, context(facts, service, calendar, now))


def invitation(visit: models.Visit, rendered: render.Rendered, *, organizer: str, attendee: str | None,
               location: str, length: timedelta, now: datetime) -> dict[str, str]:
    """The .ics attachment of a visit invitation, as a job payload entry (pipeline.jobs.mailer)."""
    starts = visit.starts_at or datetime.combine(visit.date, datetime.min.time(), tzinfo=now.tzinfo)
    text = ics.invitation(
        uid=f"{visit.dedupe_key.replace(':', '-')}@{organizer.rpartition('@')[2]}", starts_at=starts,
        length=length, summary=rendered.subject, description=rendered.text, location=location,
        organizer=organizer, attendee=attendee, created_at=now,
    )
    return {"filename": f"{visit.kind}-{visit.date.isoformat()}.ics", "content": text}


def _customer_policy(service: deadlines.ServicePolicy, facts: Facts) -> deadlines.ServicePolicy:
    """The policy the ticket's deadlines were computed with: the department's, with its customer's overrides
    merged in (as pipeline.jobs.owed.sla_jobs and sla.deadlines.compute_deadlines do), so a letter states
    the customer's own promise and level name."""
    customer = facts.customer
    if facts.ticket is None or customer is None or not customer.policy_overrides:
        return service
    return service.with_overrides(customer.policy_overrides)


def _customer_name(facts: Facts) -> str:
    if facts.customer is not None:
        return facts.customer.name
    if facts.ticket is not None:
        return facts.ticket.requester_name or facts.ticket.requester
    return ""


def _target(service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar, ticket: models.Ticket | None,
            name: str | None) -> str | None:
    """The promise a clock keeps: the level's target, or the tier's response limit where that is stricter."""
    if ticket is None or name is None:
        return None
    try:
        target = getattr(service.level(ticket.severity), name)
        tier = service.tier(ticket.tier)
    except ValueError:  # a level or tier the policy no longer has
        return None
    limit = tier.response_limit if name == "response" else None
    if limit is None or target is None:
        return (target or limit).text if (target or limit) else None

    def due(duration: clock.Duration) -> datetime:
        return clock.due_after(ticket.received_at, duration, tier.clock, service.hours, calendar)

    return limit.text if due(limit) < due(target) else target.text
