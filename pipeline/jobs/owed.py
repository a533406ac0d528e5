"""What is owed, when, to whom: the pure half of the scheduler.

From a ticket's clocks, a missed call, a customer's contract or last month's resolved tickets, say which
jobs must exist, when each falls due and who it is for, without reading a database or a clock. Every job
and visit has a key (the jobs' dedupe_key), so planning the same facts twice, in one process or in
several, asks for the same rows.

Day-granular jobs (visit reminders, visits, invitations, surveys) fall due when the business day opens
([business_hours] start, in the policy's zone) on a working day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pipeline.jobs.rules import SchedulerRules, VisitRule
from pipeline.sla import clock, cutoff, deadlines, workdays

CLOCKS = ("response", "onsite", "resolve")
OPEN, WAITING, RESOLVED = "open", "waiting", "resolved"


@dataclass(frozen=True)
class TicketFacts:
    """The columns of a ticket the plan depends on (the store builds it from the row)."""

    id: int
    status: str
    severity: int
    tier: str
    received_at: datetime
    response_due: datetime | None
    onsite_due: datetime | None
    resolve_due: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    escalated_at: datetime | None
    onsite_at: datetime | None = None  # the engineer's arrival (`intake tickets onsite`)


@dataclass(frozen=True)
class CallFacts:
    """The columns of a missed call the plan depends on, and whether its caller has been answered since
    (another call of theirs on the ticket that a person took: pipeline.store.queries.answered_since)."""

    id: int
    started_at: datetime
    ended_at: datetime | None
    callback_due: datetime
    answered_since: bool = False


@dataclass(frozen=True)
class Owed:
    """One job that must exist: `to` is a role (engineer, manager, customer), resolved to an address later."""

    key: str
    kind: str
    due_at: datetime
    to: str
    channel: str = "email"
    clock: str | None = None  # SLA jobs: response | onsite | resolve
    visit: str | None = None  # the key of the visit the job serves


@dataclass(frozen=True)
class Visit:
    """A promised visit or survey; it is done once its day's job (job_key) has been sent."""

    key: str
    kind: str  # revisit | inspection | training | survey
    mode: str  # phone | onsite | email
    date: date
    starts_at: datetime | None
    job_key: str


def done_at(ticket: TicketFacts, name: str) -> datetime | None:
    """When a clock stopped. The on-site clock stops at the engineer's arrival, or when the service is
    restored without one (whichever came first)."""
    if name == "response":
        return ticket.first_response_at
    if name == "onsite":
        return min((t for t in (ticket.onsite_at, ticket.resolved_at) if t is not None), default=None)
    return ticket.resolved_at


def sla_jobs(
    ticket: TicketFacts, service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar,
    customer_overrides: Mapping[str, Any] | None = None,
) -> list[Owed]:
    """A warning at warn_share of each running clock (to the engineer), an escalation at its breach (to
    the customer's manager). The resolve clock is paused while the ticket waits for the customer; a
    zero-length promise ("0m", answered at once) is kept by the acknowledgement and owes nothing.
    A customer's policy overrides (customer.policy_overrides) may set its own [sla] warn_share, as they
    set its deadlines (sla.deadlines.compute_deadlines).
    """
    if ticket.status not in (OPEN, WAITING):
        return []
    if customer_overrides:
        service = service.with_overrides(customer_overrides)
    business = service.tier(ticket.tier).clock == "business"
    owed = []
    for name in CLOCKS:
        due = getattr(ticket, f"{name}_due")
        if due is None or due <= ticket.received_at or done_at(ticket, name) is not None:
            continue
        if name == "resolve" and ticket.status == WAITING:
            continue
        if business:
            warn = deadlines.warn_at(ticket.received_at, due, service.warn_share, hours=service.hours,
                                     calendar=calendar)
        else:
            warn = deadlines.warn_at(ticket.received_at, due, service.warn_share)
        if warn < due:
            owed.append(Owed(f"sla_warning:{ticket.id}:{name}", "sla_warning", warn, "engineer", clock=name))
        owed.append(Owed(f"sla_escalation:{ticket.id}:{name}", "sla_escalation", due, "manager", clock=name))
    return owed


def escalation_jobs(ticket: TicketFacts) -> list[Owed]:
    """A customer who complained or asked for a manager: their regional manager is told at once."""
    if ticket.escalated_at is None:
        return []
    return [Owed(f"escalation:{ticket.id}", "escalation", ticket.escalated_at, "manager")]


def revisit(
    ticket: TicketFacts, rules: SchedulerRules, hours: clock.BusinessHours, calendar: workdays.WorkCalendar
) -> tuple[list[Visit], list[Owed]]:
    """The follow-up (回访) after resolution: N working days later, the engineer reminded the working day
    before; on-site revisits also send the customer an invitation at once."""
    if ticket.status != RESOLVED or ticket.resolved_at is None:
        return [], []
    day = cutoff.revisit_date(ticket.resolved_at, rules.revisit_after_workdays, calendar, hours.zone)
    onsite = ticket.severity in rules.revisit_onsite_levels
    key = f"revisit:{ticket.id}:{day.isoformat()}"
    visit = Visit(key, "revisit", "onsite" if onsite else "phone", day, starts_at(day, rules, hours), key)
    remind = max(opening(cutoff.revisit_reminder_date(day, calendar), hours), ticket.resolved_at)
    owed = [
        Owed(f"revisit_reminder:{ticket.id}:{day.isoformat()}", "revisit_reminder", remind, "engineer", visit=key),
        Owed(key, "revisit", max(opening(day, hours), ticket.resolved_at), "engineer", visit=key),
    ]
    if onsite:
        owed.append(Owed(f"visit_invitation:{key}", "visit_invitation", ticket.resolved_at, "customer", visit=key))
    return [visit], owed


def callback_jobs(
    call: CallFacts, ticket: TicketFacts | None, rules: SchedulerRules, *, sms: bool,
    notice_delay: timedelta = timedelta(0),
) -> list[Owed]:
    """A missed call: remind the engineer before its callback falls due, and tell the caller when we will
    call. Nothing once the ticket has been answered since the call, or resolved, nor once the caller has
    been (the hotline's rule too: pipeline.calls.followups).

    The engineer's reminder does not wait for the call to end (without Twilio's final report it still
    falls due by callback_due). The caller's notice does: it is due `notice_delay` after the call ended,
    never while they may still be on the line, and only by SMS, to the number that called. By mail it
    would go to the ticket's requester or the customer's first address, who may be someone else than
    the caller (the call may have joined a colleague's ticket): no mail is better than mail to the
    wrong person.
    """
    if call.answered_since:
        return []
    if ticket is not None and (
        ticket.status == RESOLVED
        or (ticket.first_response_at is not None and ticket.first_response_at >= call.started_at)
    ):
        return []
    missed_at = call.ended_at or call.started_at
    remind = max(call.callback_due - rules.callback_lead, missed_at)
    owed = [Owed(f"callback_reminder:{call.id}", "callback_reminder", remind, "engineer")]
    if sms and rules.engineer_phone:
        owed.append(Owed(f"callback_reminder:{call.id}:sms", "callback_reminder", remind, "engineer", "sms"))
    if rules.callback_notice and sms and call.ended_at is not None:
        owed.append(Owed(f"callback_notice:{call.id}", "callback_notice", call.ended_at + notice_delay, "customer",
                         "sms"))
    return owed


def periodic(
    customer_id: int, rule: VisitRule, today: date, rules: SchedulerRules, hours: clock.BusinessHours,
    calendar: workdays.WorkCalendar,
) -> list[tuple[Visit, list[Owed]]]:
    """This period's visit (unless its day has passed) and the next period's, with the engineer's
    preparation reminder, the customer's invitation and the engineer's reminder on the day."""
    start = period_start(today, rule.months)
    planned = []
    for first in (start, add_months(start, rule.months)):
        day = calendar.add_workdays(calendar.next_workday(first, include_today=True), rule.on_workday - 1)
        if day < today:
            continue
        key = f"{rule.kind}:{customer_id}:{first:%Y-%m}"
        owed = [
            Owed(f"{rule.kind}_prepare:{customer_id}:{first:%Y-%m}", f"{rule.kind}_prepare",
                 opening(calendar.add_workdays(day, -rule.prepare_days), hours), "engineer", visit=key),
            Owed(f"visit_invitation:{key}", "visit_invitation",
                 opening(calendar.add_workdays(day, -rule.notify_customer_days), hours), "customer", visit=key),
            Owed(key, rule.kind, opening(day, hours), "engineer", visit=key),
        ]
        planned.append((Visit(key, rule.kind, "onsite", day, starts_at(day, rules, hours), key), owed))
    return planned


def survey_day(today: date, rules: SchedulerRules, calendar: workdays.WorkCalendar) -> date | None:
    """The day this month's survey goes out, while `today` is in the month's survey window, else None."""
    first = calendar.next_workday(today.replace(day=1), include_today=True)
    send = calendar.add_workdays(first, rules.survey_days[0] - 1)
    last = calendar.add_workdays(first, rules.survey_days[1] - 1)
    return send if today <= last and send.month == today.month else None


def survey(recipient: str, month: date, day: date, hours: clock.BusinessHours) -> tuple[Visit, Owed]:
    """The satisfaction survey of `month` (its first day) to one person whose tickets were resolved the
    month before."""
    digest = hashlib.sha256(recipient.encode()).hexdigest()[:20]
    key = f"survey:{month:%Y-%m}:{digest}"
    return Visit(key, "survey", "email", day, None, key), Owed(key, "survey", opening(day, hours), "customer")


def previous_month(today: date) -> tuple[date, date]:
    """First day of last month and first day of this month."""
    this = today.replace(day=1)
    return add_months(this, -1), this


def period_start(day: date, months: int) -> date:
    return date(day.year, (day.month - 1) // months * months + 1, 1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def opening(day: date, hours: clock.BusinessHours) -> datetime:
    return hours.period(day)[0].astimezone(hours.zone)


def starts_at(day: date, rules: SchedulerRules, hours: clock.BusinessHours) -> datetime:
    return datetime.combine(day, rules.visit_time, tzinfo=hours.zone)


def is_stale(owed: Owed, now: datetime, catch_up: timedelta) -> bool:
    """A job that fell due more than catch_up ago is news nobody needs any more."""
    return owed.due_at < now - catch_up
