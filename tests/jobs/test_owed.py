"""What the planner owes, as tables: SLA warnings and escalations, revisits, callbacks, periodic visits, surveys."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from pipeline.jobs import owed
from pipeline.jobs.rules import SchedulerRules
from pipeline.sla import deadlines, workdays
from tests.sla.helpers import SHANGHAI, at


@pytest.fixture(scope="module")
def rules(policy: dict[str, Any]) -> SchedulerRules:
    return SchedulerRules.from_policy(policy)


def ticket(received: str, level: int, tier: str, service: deadlines.ServicePolicy,
           calendar: workdays.WorkCalendar, **changes: Any) -> owed.TicketFacts:
    due = deadlines.compute_deadlines(at(received), level, tier, service, calendar)
    values: dict[str, Any] = dict(id=7, status="open", severity=level, tier=tier, received_at=at(received),
                                  response_due=due.response_due, onsite_due=due.onsite_due,
                                  resolve_due=due.resolve_due, first_response_at=None, resolved_at=None,
                                  escalated_at=None)
    values.update(changes)
    return owed.TicketFacts(**values)


def table(jobs: list[owed.Owed]) -> list[tuple[str, str, str]]:
    return [(o.key, o.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"), o.to) for o in jobs]


def test_8x5_warnings_fall_in_business_time(service: deadlines.ServicePolicy,
                                            calendar: workdays.WorkCalendar) -> None:
    # Friday 17:30 -> the make-up Saturday: 75% of 8.5 business hours is 6 h 22 min 30 s after 09:00
    facts = ticket("2026-02-13 17:30", 4, "8x5", service, calendar)
    assert table(owed.sla_jobs(facts, service, calendar)) == [
        ("sla_warning:7:response", "2026-02-14 15:22:30", "engineer"),
        ("sla_escalation:7:response", "2026-02-14 17:30:00", "manager"),
        ("sla_warning:7:resolve", "2026-02-26 15:22:30", "engineer"),
        ("sla_escalation:7:resolve", "2026-02-27 17:30:00", "manager"),
    ]


def test_24x7_level_1_on_a_holiday_runs_on_the_wall_clock(service: deadlines.ServicePolicy,
                                                           calendar: workdays.WorkCalendar) -> None:
    facts = ticket("2026-02-17 03:00", 1, "24x7", service, calendar)  # Spring Festival
    assert table(owed.sla_jobs(facts, service, calendar)) == [
        ("sla_warning:7:response", "2026-02-17 03:11:15", "engineer"),
        ("sla_escalation:7:response", "2026-02-17 03:15:00", "manager"),
        ("sla_warning:7:onsite", "2026-02-17 04:30:00", "engineer"),
        ("sla_escalation:7:onsite", "2026-02-17 05:00:00", "manager"),
        ("sla_warning:7:resolve", "2026-02-17 06:00:00", "engineer"),
        ("sla_escalation:7:resolve", "2026-02-17 07:00:00", "manager"),
    ]


@pytest.mark.parametrize(
    ("changes", "keys"),
    [
        ({"first_response_at": at("2026-02-17 03:05")}, ["onsite", "resolve"]),
        ({"onsite_at": at("2026-02-17 04:40")}, ["response", "resolve"]),  # the engineer arrived
        ({"onsite_at": at("2026-02-17 05:30")}, ["response", "resolve"]),  # late: escalated, but nothing more
        ({"status": "waiting"}, ["response", "onsite"]),  # the resolve clock is paused
        ({"status": "resolved", "resolved_at": at("2026-02-17 04:00")}, []),
    ],
)
def test_stopped_clocks_owe_nothing(service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar,
                                    changes: dict[str, Any], keys: list[str]) -> None:
    facts = ticket("2026-02-17 03:00", 1, "24x7", service, calendar, **changes)
    assert sorted({o.clock for o in owed.sla_jobs(facts, service, calendar)}) == sorted(keys)


@pytest.mark.parametrize(
    ("received", "tier", "overrides", "warnings"),
    [
        # 24x7 level 1: 15 min / 2 h / 4 h on the wall clock, warned at half time instead of 75%
        ("2026-02-17 03:00", "24x7", {"sla": {"warn_share": 0.5}},
         ["2026-02-17 03:07:30", "2026-02-17 04:00:00", "2026-02-17 05:00:00"]),
        ("2026-02-17 03:00", "24x7", None, ["2026-02-17 03:11:15", "2026-02-17 04:30:00", "2026-02-17 06:00:00"]),
        # 8x5: 15 business min, 2 and 4 business hours from Monday 16:30, halved in business time
        ("2026-03-02 16:30", "8x5", {"sla": {"warn_share": 0.5}},
         ["2026-03-02 16:37:30", "2026-03-02 17:30:00", "2026-03-03 10:00:00"]),
        # overrides that leave warn_share alone keep the department's 75%
        ("2026-02-17 03:00", "24x7", {"levels": {"1": {"resolve": "8h"}}},
         ["2026-02-17 03:11:15", "2026-02-17 04:30:00", "2026-02-17 06:00:00"]),
    ],
)
def test_a_customer_may_be_warned_at_its_own_share(
    service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar, received: str, tier: str,
    overrides: dict[str, Any] | None, warnings: list[str],
) -> None:
    facts = ticket(received, 1, tier, service, calendar)
    jobs = [o for o in owed.sla_jobs(facts, service, calendar, overrides) if o.kind == "sla_warning"]
    assert [due for _, due, _ in table(jobs)] == warnings


def test_a_promise_of_at_once_is_kept_by_the_acknowledgement(service: deadlines.ServicePolicy,
                                                             calendar: workdays.WorkCalendar) -> None:
    facts = ticket("2026-02-17 03:00", 1, "24x7", service, calendar, response_due=at("2026-02-17 03:00"))
    assert "response" not in {o.clock for o in owed.sla_jobs(facts, service, calendar)}


def test_escalation_on_request_is_due_when_asked(service: deadlines.ServicePolicy,
                                                 calendar: workdays.WorkCalendar) -> None:
    facts = ticket("2026-03-02 10:00", 3, "8x5", service, calendar, escalated_at=at("2026-03-02 10:00"))
    assert table(owed.escalation_jobs(facts)) == [("escalation:7", "2026-03-02 10:00:00", "manager")]


@pytest.mark.parametrize(
    ("resolved", "level", "visit", "reminder", "invitation"),
    [
        # Tuesday -> Friday; reminded Thursday morning
        ("2026-03-03 16:00", 3, "2026-03-06", "2026-03-05 09:00:00", None),
        # Thursday before Spring Festival -> 13 Fri, 14 Sat (make-up), 24 Tue; reminded on the Saturday
        ("2026-02-12 11:00", 3, "2026-02-24", "2026-02-14 09:00:00", None),
        # resolved on a holiday: 8, 9, 10 (Saturday, make-up); level 1 visits on site, invited at once
        ("2026-10-03 20:00", 1, "2026-10-10", "2026-10-09 09:00:00", "2026-10-03 20:00:00"),
    ],
)
def test_revisit_is_on_a_working_day_reminded_the_working_day_before(
    rules: SchedulerRules, service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar, resolved: str,
    level: int, visit: str, reminder: str, invitation: str | None,
) -> None:
    facts = ticket("2026-02-02 10:00", level, "8x5", service, calendar, status="resolved",
                   resolved_at=at(resolved), severity=level)
    visits, jobs = owed.revisit(facts, rules, service.hours, calendar)
    assert [(v.kind, v.mode, v.date.isoformat()) for v in visits] == [
        ("revisit", "onsite" if invitation else "phone", visit)]
    assert calendar.is_workday(visits[0].date)
    due = {o.kind: o.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") for o in jobs}
    assert due["revisit_reminder"] == reminder
    assert due["revisit"] == f"{visit} 09:00:00"
    assert due.get("visit_invitation") == invitation


def test_callbacks_remind_before_the_deadline_and_stop_once_answered(
    rules: SchedulerRules, service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar,
) -> None:
    call = owed.CallFacts(3, at("2026-03-02 10:00"), at("2026-03-02 10:01"), at("2026-03-02 11:00"))
    assert table(owed.callback_jobs(call, None, rules, sms=False)) == [  # no SMS: the caller is not told by mail
        ("callback_reminder:3", "2026-03-02 10:50:00", "engineer"),
    ]
    assert table(owed.callback_jobs(call, None, rules, sms=True, notice_delay=timedelta(seconds=60))) == [
        ("callback_reminder:3", "2026-03-02 10:50:00", "engineer"),
        ("callback_notice:3", "2026-03-02 10:02:00", "customer"),  # a minute after the call ended
    ]
    assert [o.channel for o in owed.callback_jobs(call, None, rules, sms=True)] == ["email", "sms"]
    answered = ticket("2026-03-02 10:00", 2, "24x7", service, calendar, first_response_at=at("2026-03-02 10:20"))
    assert owed.callback_jobs(call, answered, rules, sms=True) == []


@pytest.mark.parametrize(("ended", "answered_since", "expected"), [
    ("2026-03-02 10:01", False, ["callback_reminder:5", "callback_notice:5"]),
    ("2026-03-02 10:01", True, []),  # the caller's later call was answered: no notice, no reminder
    (None, True, []),  # answered before the first call's end was even reported
])
def test_a_caller_answered_since_is_owed_nothing(rules: SchedulerRules, ended: str | None, answered_since: bool,
                                                 expected: list[str]) -> None:
    call = owed.CallFacts(5, at("2026-03-02 10:00"), at(ended) if ended else None, at("2026-03-02 10:30"),
                          answered_since=answered_since)
    assert [o.key for o in owed.callback_jobs(call, None, rules, sms=True)] == expected


def test_a_call_still_on_the_line_owes_the_engineer_a_reminder_and_the_caller_nothing_yet(
    rules: SchedulerRules,
) -> None:
    ringing = owed.CallFacts(4, at("2026-03-02 10:00"), None, at("2026-03-02 10:15"))  # no final report (yet)
    assert table(owed.callback_jobs(ringing, None, rules, sms=True, notice_delay=timedelta(seconds=60))) == [
        ("callback_reminder:4", "2026-03-02 10:05:00", "engineer"),  # falls due by callback_due all the same
    ]


def test_quarterly_inspection_prepared_announced_and_held(
    rules: SchedulerRules, service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar,
) -> None:
    inspection = next(rule for rule in rules.visits if rule.kind == "inspection")
    planned = owed.periodic(5, inspection, date(2026, 3, 20), rules, service.hours, calendar)
    # Q1's 10th working day (Jan 15) has passed; Q2's: April 1-3, 7-10, 13-15 -> the 15th
    assert [(v.key, v.date.isoformat()) for v, _ in planned] == [("inspection:5:2026-04", "2026-04-15")]
    assert table(planned[0][1]) == [
        ("inspection_prepare:5:2026-04", "2026-03-31 09:00:00", "engineer"),
        ("visit_invitation:inspection:5:2026-04", "2026-04-08 09:00:00", "customer"),
        ("inspection:5:2026-04", "2026-04-15 09:00:00", "engineer"),
    ]
    assert planned[0][0].starts_at == datetime(2026, 4, 15, 10, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-04-01", "2026-04-01"),
        ("2026-04-08", "2026-04-01"),  # a late survey still goes out within the first five working days
        ("2026-04-09", None),
        ("2026-10-01", "2026-10-08"),  # National Day: working days 8, 9, 10 (Sat), 12, 13
        ("2026-10-13", "2026-10-08"),
        ("2026-10-14", None),
    ],
)
def test_survey_goes_out_in_the_first_working_week(rules: SchedulerRules, calendar: workdays.WorkCalendar,
                                                   today: str, expected: str | None) -> None:
    day = owed.survey_day(date.fromisoformat(today), rules, calendar)
    assert (day.isoformat() if day else None) == expected


def test_stale_jobs_are_not_news(rules: SchedulerRules) -> None:
    job = owed.Owed("k", "survey", at("2026-04-01 09:00"), "customer")
    assert rules.catch_up == timedelta(days=3)
    assert not owed.is_stale(job, at("2026-04-04 08:59"), rules.catch_up)
    assert owed.is_stale(job, at("2026-04-04 09:01"), rules.catch_up)


@pytest.mark.parametrize(
    ("day", "months", "start", "next_start"),
    [("2026-08-20", 6, "2026-07-01", "2027-01-01"), ("2026-11-30", 3, "2026-10-01", "2027-01-01"),
     ("2026-01-01", 12, "2026-01-01", "2027-01-01"), ("2026-05-31", 1, "2026-05-01", "2026-06-01")],
)
def test_periods(day: str, months: int, start: str, next_start: str) -> None:
    first = owed.period_start(date.fromisoformat(day), months)
    assert (first.isoformat(), owed.add_months(first, months).isoformat()) == (start, next_start)
