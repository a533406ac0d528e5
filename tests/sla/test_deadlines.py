from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest

from pipeline import records
from pipeline.errors import ConfigError
from pipeline.sla import deadlines, workdays
from tests.sla.helpers import SHANGHAI, at


def local(value: str | None) -> datetime | None:
    return None if value is None else at(value)


@pytest.mark.parametrize(
    ("received", "level", "tier", "response", "onsite", "resolve"),
    [
        # 8x5, level 4: response by close of the next business day; Saturday 2026-02-14 is a make-up day
        ("2026-02-13 17:30", 4, "8x5", "2026-02-14 17:30", None, "2026-02-27 17:30"),
        # after closing on the make-up Saturday: Spring Festival 02-15..02-23 off -> Tuesday
        ("2026-02-14 18:00", 4, "8x5", "2026-02-24 17:30", None, "2026-02-28 17:30"),
        ("2026-03-03 10:00", 4, "8x5", "2026-03-04 17:30", None, "2026-03-10 10:00"),
        # 24x7 level 1 at 03:00 on National Day: the clock runs through holidays
        ("2026-10-01 03:00", 1, "24x7", "2026-10-01 03:15", "2026-10-01 05:00", "2026-10-01 07:00"),
        ("2026-09-30T19:00+00:00", 1, "24x7", "2026-10-01 03:15", "2026-10-01 05:00", "2026-10-01 07:00"),
        # 8x5 level 1 at 17:20 on a working day: 10 business minutes today, 5 tomorrow
        ("2026-03-03 17:20", 1, "8x5", "2026-03-04 09:05", "2026-03-04 10:50", "2026-03-04 12:50"),
        # ... and on the day before National Day: the business clock resumes on 10-08
        ("2026-09-30 17:20", 1, "8x5", "2026-10-08 09:05", "2026-10-08 10:50", "2026-10-08 12:50"),
        ("2026-03-06 16:00", 2, "8x5", "2026-03-06 16:30", "2026-03-09 11:30", "2026-03-10 11:00"),
        # 8x5 level 3 on an ordinary Saturday: 2 business hours from Monday's opening
        ("2026-03-07 11:00", 3, "8x5", "2026-03-09 11:00", "2026-03-09 17:30", "2026-03-11 16:00"),
        ("2026-03-03 10:00", 3, "24x7", "2026-03-03 12:00", "2026-03-04 17:30", "2026-03-04 10:00"),
        # 24x7 level 4: the tier's 4 h limit beats "next business day"
        ("2026-03-03 10:00", 4, "24x7", "2026-03-03 14:00", None, "2026-03-10 10:00"),
        ("2026-03-07 03:00", 4, "24x7", "2026-03-07 07:00", None, "2026-03-13 17:30"),
        # an unpublished year still answers (holidays.China estimate: 2027-02-08..10 off)
        ("2027-02-08 10:00", 3, "8x5", "2027-02-11 11:00", "2027-02-11 17:30", "2027-02-15 16:00"),
    ],
)
def test_compute_deadlines(
    service: deadlines.ServicePolicy,
    calendar: workdays.WorkCalendar,
    received: str,
    level: int,
    tier: str,
    response: str,
    onsite: str | None,
    resolve: str,
) -> None:
    result = deadlines.compute_deadlines(at(received), level, tier, service, calendar)
    assert (result.response_due, result.onsite_due, result.resolve_due) == (
        local(response),
        local(onsite),
        local(resolve),
    )
    assert all(value.tzinfo == SHANGHAI for value in (result.response_due, result.resolve_due))


def test_notes_say_why(service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar) -> None:
    capped = deadlines.compute_deadlines(at("2026-03-03 10:00"), 4, "24x7", service, calendar)
    assert capped.notes == ("response: tier 24x7 limit '4h' is stricter",)
    estimated = deadlines.compute_deadlines(at("2027-02-08 10:00"), 3, "8x5", service, calendar)
    assert estimated.notes == ("calendar: 2027 holiday schedule is estimated (not yet published)",)
    plain = deadlines.compute_deadlines(at("2027-02-08 10:00"), 1, "24x7", service, calendar)
    assert plain.notes == ()


def test_severity_enum_is_a_level(service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar) -> None:
    result = deadlines.compute_deadlines(
        at("2026-10-01 03:00"), records.Severity.CRITICAL, "24x7", service, calendar
    )
    assert result.response_due == at("2026-10-01 03:15")


@pytest.mark.parametrize(
    ("received", "tier", "paused", "resolve"),
    [
        ("2026-03-03 10:00", "24x7", timedelta(0), "2026-03-03 22:00"),
        ("2026-03-03 10:00", "24x7", timedelta(hours=1, minutes=30), "2026-03-03 23:30"),
        # intervals on the 24x7 clock: wall time, overlaps counted once (10:30-12:00 = 1.5 h)
        (
            "2026-03-03 10:00",
            "24x7",
            [
                (at("2026-03-03 10:30"), at("2026-03-03 11:30")),
                (at("2026-03-03 11:00"), at("2026-03-03 12:00")),
            ],
            "2026-03-03 23:30",
        ),
        # 8x5 level 2 restore: 12 business hours from Tuesday 15:00 is Thursday 10:00
        ("2026-03-03 15:00", "8x5", timedelta(0), "2026-03-05 10:00"),
        # 8x5: a pause is a business duration, added in business time
        ("2026-03-03 15:00", "8x5", timedelta(hours=4), "2026-03-05 14:00"),
        # intervals on the 8x5 clock: the night does not count (16:00-09:30 = 2 business hours)
        ("2026-03-03 15:00", "8x5", [(at("2026-03-03 16:00"), at("2026-03-04 09:30"))], "2026-03-05 12:00"),
    ],
)
def test_pause_extends_resolve_due(
    service: deadlines.ServicePolicy,
    calendar: workdays.WorkCalendar,
    received: str,
    tier: str,
    paused,
    resolve: str,
) -> None:
    result = deadlines.compute_deadlines(at(received), 2, tier, service, calendar, paused=paused)
    unpaused = deadlines.compute_deadlines(at(received), 2, tier, service, calendar)
    assert result.resolve_due == at(resolve)
    assert (result.response_due, result.onsite_due) == (unpaused.response_due, unpaused.onsite_due)


def test_bad_pause_is_refused(service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar) -> None:
    with pytest.raises(ValueError, match="paused interval ends before it starts"):
        deadlines.compute_deadlines(
            at("2026-03-03 10:00"),
            2,
            "24x7",
            service,
            calendar,
            paused=[(at("2026-03-03 12:00"), at("2026-03-03 11:00"))],
        )
    with pytest.raises(ValueError, match="paused must not be negative"):
        deadlines.compute_deadlines(
            at("2026-03-03 10:00"), 2, "24x7", service, calendar, paused=timedelta(hours=-1)
        )


@pytest.mark.parametrize(
    ("overrides", "level", "tier", "expected"),
    [
        # a contract with a 2 h restore for level 1 and a 1 h response limit
        (
            {"levels": {"1": {"resolve": "2h"}}, "tiers": {"24x7": {"response_limit": "1h"}}},
            1,
            "24x7",
            ("2026-03-03 10:15", "2026-03-03 12:00", "2026-03-03 12:00"),
        ),
        (
            {"tiers": {"24x7": {"response_limit": "10m"}}},
            1,
            "24x7",
            ("2026-03-03 10:10", "2026-03-03 12:00", "2026-03-03 14:00"),
        ),
        # int level keys work too; "" removes a promise
        ({"levels": {2: {"onsite": ""}}}, 2, "24x7", ("2026-03-03 10:30", None, "2026-03-03 22:00")),
        # a customer with longer business hours (08:00-20:00) on 8x5
        (
            {"business_hours": {"start": "08:00", "end": "20:00"}},
            4,
            "8x5",
            ("2026-03-04 20:00", None, "2026-03-10 10:00"),
        ),
    ],
)
def test_customer_overrides_win(
    service: deadlines.ServicePolicy,
    calendar: workdays.WorkCalendar,
    overrides: dict[str, Any],
    level: int,
    tier: str,
    expected: tuple[str | None, str | None, str | None],
) -> None:
    before = copy.deepcopy(service.sections)
    result = deadlines.compute_deadlines(
        at("2026-03-03 10:00"), level, tier, service, calendar, customer_overrides=overrides
    )
    assert (result.response_due, result.onsite_due, result.resolve_due) == tuple(map(local, expected))
    assert service.sections == before  # the shared policy is untouched


@pytest.mark.parametrize(
    ("level", "language", "name"),
    [
        (1, "zh-Hans", "一级（紧急故障）"),
        (1, "zh-Hant", "一級（緊急故障）"),
        (1, "en", "Level 1 (critical)"),
        (2, "zh-Hant", "二級（嚴重故障）"),
        (4, "zh-Hans", "四级（咨询/轻微问题）"),
        (3, "ja", "Level 3 (minor)"),  # no Japanese name: English
    ],
)
def test_level_name(service: deadlines.ServicePolicy, level: int, language: str, name: str) -> None:
    assert deadlines.level_name(service, level, language) == name


@pytest.mark.parametrize(
    ("missed", "tier", "expected"),
    [
        ("2026-10-01 03:00", "24x7", "2026-10-01 03:15"),
        ("2026-03-03 10:00", "8x5", "2026-03-03 11:00"),
        ("2026-03-03 16:30", "8x5", "2026-03-03 17:30"),
        ("2026-03-03 17:00", "8x5", "2026-03-04 09:30"),  # rolls into the next business day
        ("2026-03-03 20:00", "8x5", "2026-03-04 10:00"),  # after hours: next opening + 1 h
        ("2026-03-03 07:00", "8x5", "2026-03-03 10:00"),
        ("2026-02-14 12:00", "8x5", "2026-02-14 13:00"),  # make-up Saturday
        ("2026-02-15 12:00", "8x5", "2026-02-24 10:00"),  # Spring Festival
    ],
)
def test_callback_due(
    service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar, missed: str, tier: str, expected: str
) -> None:
    assert deadlines.callback_due(at(missed), tier, service, calendar) == at(expected)


DUE = "2026-03-03 10:00"


@pytest.mark.parametrize(
    ("due", "done", "now", "state", "left"),
    [
        (DUE, "2026-03-03 09:59", "2026-03-03 12:00", "met", 60),
        (DUE, "2026-03-03 10:00", "2026-03-03 12:00", "met", 0),
        (DUE, "2026-03-03 10:01", "2026-03-03 12:00", "breached", -60),
        (DUE, None, "2026-03-03 09:00", "running", 3600),
        (DUE, None, "2026-03-03 10:00:30", "breached", -30),
        (DUE, None, "2026-03-03T01:00+00:00", "running", 3600),
        (None, None, "2026-03-03 09:00", "running", None),
        (None, "2026-03-03 09:00", "2026-03-03 09:00", "met", None),
    ],
)
def test_clock_status(due: str | None, done: str | None, now: str, state: str, left: int | None) -> None:
    status = deadlines.clock_status(local(due), local(done), at(now))
    assert status == deadlines.ClockStatus(local(due), state, left)


def test_warn_at(service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar) -> None:
    assert deadlines.warn_at(at("2026-03-03 10:00"), at("2026-03-03 14:00"), 0.75) == at("2026-03-03 13:00")
    # an 8x5 clock from 16:30 to 10:00 next day holds 2 business hours; 75 % falls at 09:30, not 05:37
    start, due = at("2026-03-03 16:30"), at("2026-03-04 10:00")
    assert deadlines.warn_at(start, due, 0.75) == at("2026-03-04 05:37:30")
    assert deadlines.warn_at(start, due, 0.75, hours=service.hours, calendar=calendar) == at(
        "2026-03-04 09:30"
    )
    with pytest.raises(ValueError, match="share must be between 0 and 1"):
        deadlines.warn_at(start, due, 1.5)


def test_unknown_tier_and_level(service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar) -> None:
    with pytest.raises(ValueError, match=r"unknown service tier '9x5' \(policy has \['24x7', '8x5'\]\)"):
        deadlines.compute_deadlines(at(DUE), 1, "9x5", service, calendar)
    with pytest.raises(ValueError, match=r"unknown level 5 \(policy has \[1, 2, 3, 4\]\)"):
        deadlines.compute_deadlines(at(DUE), 5, "24x7", service, calendar)
    with pytest.raises(ValueError, match="received_at must be a timezone-aware datetime"):
        deadlines.compute_deadlines(datetime(2026, 3, 3, 10), 1, "24x7", service, calendar)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"levels": {"2": {"resolve": "2 hours"}}}, "levels.2.resolve: bad duration '2 hours': use e.g."),
        ({"tiers": {"8x5": {"clock": "sometimes"}}}, "tiers.8x5.clock: 'sometimes' must be one of"),
        ({"tiers": {"8x5": {"callback_limit": ""}}}, "tiers.8x5.callback_limit: required"),
        ({"levels": {"one": {"response": "1h"}}}, "levels.one: level keys are numbers"),
        ({"levels": {"1": {"name": ["critical"]}}}, "levels.1.name: expected"),
        ({"sla": {"warn_share": 1.5}}, "sla.warn_share: 1.5 must be a number in (0, 1]"),
        (
            {"business_hours": {"end": "5pm"}},
            "business_hours: business_hours.end: '5pm' is not a time of day",
        ),
    ],
)
def test_bad_policy_names_the_key(policy: dict[str, Any], change: dict[str, Any], message: str) -> None:
    from pipeline import policy as policy_files

    with pytest.raises(ConfigError) as caught:
        deadlines.ServicePolicy.from_policy(policy_files.merge(policy, change), SHANGHAI)
    assert str(caught.value).startswith(message)


def test_overrides_outside_the_service_tables_are_refused(
    service: deadlines.ServicePolicy, calendar: workdays.WorkCalendar
) -> None:
    with pytest.raises(ConfigError, match=r"^customer overrides: \['calendar'\] cannot differ per customer"):
        deadlines.compute_deadlines(
            at(DUE), 1, "24x7", service, calendar, customer_overrides={"calendar": {"extra_holidays": []}}
        )


def test_a_customer_may_have_its_own_warn_share(service: deadlines.ServicePolicy) -> None:
    assert service.with_overrides({"sla": {"warn_share": 0.5}}).warn_share == 0.5
    assert service.with_overrides({"levels": {"1": {"resolve": "2h"}}}).warn_share == service.warn_share == 0.75
    with pytest.raises(ConfigError, match=r"^sla.warn_share: 0 must be a number in \(0, 1\]"):
        service.with_overrides({"sla": {"warn_share": 0}})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sla": 0.5}, "customer overrides: sla: expected a table, got 0.5"),
        ({"levels": {"1": "2h"}}, "customer overrides: levels.1: expected a table, got '2h'"),
        ({"tiers": {"24x7": None}}, "customer overrides: tiers.24x7: expected a table, got None"),
    ],
)
def test_customer_overrides_must_be_tables(service: deadlines.ServicePolicy, overrides: dict[str, Any],
                                          message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        service.with_overrides(overrides)
    assert str(caught.value) == message
