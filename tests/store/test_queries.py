"""`queries.tickets` narrowed by `TicketFilter` (`intake tickets list`), on SQLite and PostgreSQL: plain
columns in SQL, and `overdue` agreeing with the clocks `tickets show` prints (views.sla_row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from pipeline.runtime import Runtime
from pipeline.store import models, queries, views
from tests.sla.helpers import at

NOW = at("2026-03-02 13:00")

# subject -> the ticket's columns besides the common ones; an open level-1 ticket received at 10:00 with its
# clocks due at 10:15 (response), 12:00 (on site) and 14:00 (resolve)
OVERDUE_CASES: dict[str, tuple[bool, dict[str, Any]]] = {
    "nothing done: the response is late": (True, {}),
    "responded on time, nobody on site yet": (True, {"first_response_at": at("2026-03-02 10:10")}),
    "responded late, on site in time: both stopped": (
        False, {"first_response_at": at("2026-03-02 10:20"), "onsite_at": at("2026-03-02 11:50")}),
    "level 4: nothing promised on site": (
        False, {"severity": 4, "first_response_at": at("2026-03-02 10:10"), "onsite_due": None}),
    "the resolve clock alone is late": (
        True, {"first_response_at": at("2026-03-02 10:10"), "onsite_at": at("2026-03-02 11:00"),
               "resolve_due": at("2026-03-02 12:30")}),
    "waiting since before the resolve due: the clock stands still": (
        False, {"status": "waiting", "waiting_since": at("2026-03-02 11:00"), "first_response_at": at(
            "2026-03-02 10:10"), "onsite_at": at("2026-03-02 11:00"), "resolve_due": at("2026-03-02 12:30")}),
    "waiting since after the resolve due": (
        True, {"status": "waiting", "waiting_since": at("2026-03-02 12:45"), "first_response_at": at(
            "2026-03-02 10:10"), "onsite_at": at("2026-03-02 11:00"), "resolve_due": at("2026-03-02 12:30")}),
    "resolved: no clock runs": (False, {"status": "resolved", "resolved_at": at("2026-03-02 12:50")}),
    "received just now: nothing is due yet": (
        False, {"received_at": at("2026-03-02 12:55"), "response_due": at("2026-03-02 13:10"),
                "onsite_due": at("2026-03-02 14:55"), "resolve_due": at("2026-03-02 16:55")}),
}


def add_ticket(runtime: Runtime, subject: str, **columns: Any) -> int:
    values: dict[str, Any] = dict(
        subject=subject, status="open", channel="email", language="en", severity=1, requester="ann@mill.example.com",
        tier="24x7", timezone="Asia/Shanghai", received_at=at("2026-03-02 10:00"), response_due=at("2026-03-02 10:15"),
        onsite_due=at("2026-03-02 12:00"), resolve_due=at("2026-03-02 14:00"), paused_s=0,
        created_at=at("2026-03-02 10:00"), updated_at=at("2026-03-02 10:00"))
    values.update(columns)
    with runtime.sessions.begin() as session:
        ticket = models.Ticket(**values)
        session.add(ticket)
        session.flush()
        return ticket.id


def add_customer(runtime: Runtime, name: str) -> int:
    with runtime.sessions.begin() as session:
        customer = models.Customer(name=name, tier="24x7", timezone="Asia/Shanghai", created_at=NOW)
        session.add(customer)
        session.flush()
        return customer.id


def subjects(runtime: Runtime, status: str | None = None, limit: int = 1000, **wanted: Any) -> list[str]:
    with runtime.sessions() as session:
        found = queries.tickets(session, status=status, limit=limit, wanted=queries.TicketFilter(**wanted))
        return [ticket.subject for ticket in found]


def shown_overdue(ticket: models.Ticket, now: datetime) -> bool:
    """What `tickets show` says: a clock breached while nothing has stopped it, on a ticket not resolved."""
    stopped = {"response": ticket.first_response_at, "onsite": views.onsite_done_at(ticket),
               "resolve": ticket.resolved_at}
    clocks = views.sla_row(ticket, now)
    return ticket.status != "resolved" and any(
        clock["state"] == "breached" and stopped[name] is None for name, clock in clocks.items())


def test_overdue_is_a_clock_still_owed_past_its_due(runtime: Runtime) -> None:
    for subject, (_, columns) in OVERDUE_CASES.items():
        add_ticket(runtime, subject, **columns)
    expected = [subject for subject, (overdue, _) in reversed(OVERDUE_CASES.items()) if overdue]
    assert subjects(runtime, overdue_at=NOW) == expected
    with runtime.sessions() as session:  # the same judgement as the clocks `tickets show` prints
        assert [t.subject for t in queries.tickets(session) if shown_overdue(t, NOW)] == expected
    assert subjects(runtime, "waiting", overdue_at=NOW) == ["waiting since after the resolve due"]
    assert subjects(runtime, "resolved", overdue_at=NOW) == []


@pytest.mark.parametrize(("wanted", "expected"), [
    ({}, ["phone, 林工", "mail of 华东电厂, level 3", "mail of 华东电厂, level 1, 林工", "no customer, level 2"]),
    ({"severities": (1, 3)}, ["mail of 华东电厂, level 3", "mail of 华东电厂, level 1, 林工"]),
    ({"customer": "华东电厂"}, ["mail of 华东电厂, level 3", "mail of 华东电厂, level 1, 林工"]),
    ({"customer": "华东"}, []),  # the exact name only
    ({"customer": queries.NOBODY}, ["phone, 林工", "no customer, level 2"]),
    ({"channel": "phone"}, ["phone, 林工"]),
    ({"assignee": "林工"}, ["phone, 林工", "mail of 华东电厂, level 1, 林工"]),
    ({"assignee": queries.NOBODY}, ["mail of 华东电厂, level 3", "no customer, level 2"]),
    ({"assignee": "林工", "customer": "华东电厂", "severities": (1, 2)}, ["mail of 华东电厂, level 1, 林工"]),
    ({"channel": "email", "assignee": "林工", "severities": (3,)}, []),
])
def test_filters_combine(runtime: Runtime, wanted: dict[str, Any], expected: list[str]) -> None:
    plant = add_customer(runtime, "华东电厂")
    add_ticket(runtime, "no customer, level 2", severity=2)
    add_ticket(runtime, "mail of 华东电厂, level 1, 林工", customer_id=plant, assignee="林工")
    add_ticket(runtime, "mail of 华东电厂, level 3", customer_id=plant, severity=3)
    add_ticket(runtime, "phone, 林工", channel="phone", requester="+8613800138000", assignee="林工", severity=2)
    assert subjects(runtime, **wanted) == expected


def test_status_and_limit_apply_with_the_filters(runtime: Runtime) -> None:
    for number in range(1, 6):
        add_ticket(runtime, f"ticket {number}", status="resolved" if number % 2 else "open", severity=number % 2 + 1)
    assert subjects(runtime, "resolved", limit=2) == ["ticket 5", "ticket 3"]
    assert subjects(runtime, "resolved", limit=2, severities=(1,)) == []
    assert subjects(runtime, "open", limit=1, severities=(1,)) == ["ticket 4"]
    assert subjects(runtime, limit=3, severities=(1, 2)) == ["ticket 5", "ticket 4", "ticket 3"]
