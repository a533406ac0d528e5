"""Ticket rules on the store: a response or an arrival on site (recorded once, or corrected), and a customer
whose terms change under its open tickets or who becomes known after its tickets arrived."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from pipeline.runtime import Runtime
from pipeline.sla import deadlines
from pipeline.store import db, models
from pipeline.tickets import customers, service
from tests.sla.helpers import at

RECEIVED = at("2026-03-02 10:00")  # a Monday


def add_customer(rt: Runtime, tier: str, overrides: dict | None = None) -> int:
    row = customers.CustomerRow("Mill Co", ("ann@mill.example.com",), (), (), tier, None, "Asia/Shanghai",
                                overrides, True)
    with db.transaction(rt.sessions) as session:
        return customers.upsert(session, row, at("2026-01-01 00:00")).id


def add_ticket(rt: Runtime, customer_id: int, status: str, severity: int = 3) -> int:
    with db.transaction(rt.sessions) as session:
        customer = session.get(models.Customer, customer_id)
        assert customer is not None
        ticket = models.Ticket(
            subject="Board alarm", status=status, channel="email", language="en", severity=severity,
            customer_id=customer_id, requester="ann@mill.example.com", tier=customer.tier,
            timezone="Asia/Shanghai", received_at=RECEIVED, paused_s=0, created_at=RECEIVED, updated_at=RECEIVED,
            resolved_at=at("2026-03-02 11:00") if status == service.RESOLVED else None,
            waiting_since=at("2026-03-02 10:30") if status == service.WAITING else None)
        service.apply_deadlines(service.context(rt), ticket, customer)
        session.add(ticket)
        session.flush()
        return ticket.id


def dues(rt: Runtime, ticket_id: int) -> tuple[str, datetime | None, datetime | None, datetime | None]:
    with rt.sessions() as session:
        ticket = session.get(models.Ticket, ticket_id)
        assert ticket is not None
        return ticket.tier, ticket.response_due, ticket.onsite_due, ticket.resolve_due


def expected(rt: Runtime, tier: str, overrides: dict | None = None) -> tuple[str, ...]:
    due = deadlines.compute_deadlines(RECEIVED, 3, tier, rt.service_policy, rt.calendar,
                                      customer_overrides=overrides)
    return tier, due.response_due, due.onsite_due, due.resolve_due


def test_open_and_waiting_tickets_follow_their_customer(runtime: Runtime) -> None:
    customer_id = add_customer(runtime, "8x5")
    opened, waiting, resolved = (add_ticket(runtime, customer_id, s) for s in ("open", "waiting", "resolved"))
    before = dues(runtime, resolved)
    assert before == expected(runtime, "8x5")
    faster = {"levels": {"3": {"resolve": "8h"}}}
    add_customer(runtime, "24x7", faster)
    later = at("2026-03-02 12:00")
    with db.transaction(runtime.sessions) as session:
        customer = session.get(models.Customer, customer_id)
        assert customer is not None
        changed = service.follow_customer(session, service.context(runtime), customer, later)
        assert [t.id for t in changed] == [opened, waiting]
        assert all(t.updated_at == later for t in changed)
    assert dues(runtime, opened) == dues(runtime, waiting) == expected(runtime, "24x7", faster)
    assert dues(runtime, opened)[3] == at("2026-03-02 18:00")  # 8 wall-clock hours
    assert dues(runtime, resolved) == before  # judged by the terms it was resolved under


def test_the_first_arrival_on_site_counts(runtime: Runtime) -> None:
    ticket_id = add_ticket(runtime, add_customer(runtime, "24x7"), "open", severity=1)
    for arrival, kept in (("2026-03-02 11:00", None), ("2026-03-02 11:40", at("2026-03-02 11:00"))):
        with db.transaction(runtime.sessions) as session:
            ticket = session.get(models.Ticket, ticket_id)
            assert ticket is not None
            assert service.arrive_onsite(ticket, at(arrival)) == kept
            assert ticket.updated_at == at("2026-03-02 11:00")  # the second changed nothing
    with runtime.sessions() as session:
        ticket = session.scalar(select(models.Ticket).where(models.Ticket.id == ticket_id))
        assert ticket is not None and ticket.onsite_at == at("2026-03-02 11:00")
        assert ticket.onsite_due == at("2026-03-02 12:00")


@pytest.mark.parametrize("record", [service.respond, service.arrive_onsite])
def test_a_wrong_time_is_corrected(record: Callable[..., datetime | None]) -> None:
    ticket = models.Ticket(first_response_at=None, onsite_at=None, updated_at=RECEIVED)
    assert record(ticket, at("2026-03-02 11:00")) is None
    assert record(ticket, at("2026-03-02 10:30")) == at("2026-03-02 11:00")  # kept
    assert record(ticket, at("2026-03-02 10:30"), correct=True) is None
    recorded = ticket.first_response_at if record is service.respond else ticket.onsite_at
    assert (recorded, ticket.updated_at) == (at("2026-03-02 10:30"), at("2026-03-02 10:30"))


NOW = at("2026-03-02 12:00")


@pytest.mark.parametrize(
    ("moment", "problem"),
    [
        (RECEIVED, None),
        (NOW + timedelta(seconds=60), None),  # a minute of clock skew
        (at("2026-03-02 09:59"), "2026-03-02T09:59:00+08:00 is before the ticket arrived (2026-03-02T10:00:00+08:00)"),
        (NOW + timedelta(seconds=61), "2026-03-02T12:01:01+08:00 is in the future (now 2026-03-02T12:00:00+08:00)"),
        (at("2026-03-02T01:00:00+00:00"),  # UTC, shown in the ticket's zone
         "2026-03-02T09:00:00+08:00 is before the ticket arrived (2026-03-02T10:00:00+08:00)"),
    ],
)
def test_a_response_or_arrival_lies_between_arrival_and_now(moment: datetime, problem: str | None) -> None:
    ticket = models.Ticket(received_at=RECEIVED, timezone="Asia/Shanghai")
    if problem is None:
        service.check_event_time(ticket, moment, NOW)
        return
    with pytest.raises(ValueError) as caught:
        service.check_event_time(ticket, moment, NOW)
    assert str(caught.value) == problem


# A customer imported after its tickets arrived ----------------------------------------------------

def add_unlinked(rt: Runtime, requester: str, status: str = "open", channel: str = "email") -> int:
    """A ticket from someone nobody knew yet: the default tier and zone."""
    with db.transaction(rt.sessions) as session:
        ticket = models.Ticket(
            subject="Board alarm", status=status, channel=channel, language="en", severity=3, customer_id=None,
            requester=requester, tier="8x5", timezone="Asia/Shanghai", received_at=RECEIVED, paused_s=0,
            created_at=RECEIVED, updated_at=RECEIVED,
            resolved_at=at("2026-03-02 11:00") if status == service.RESOLVED else None)
        service.apply_deadlines(service.context(rt), ticket, None)
        session.add(ticket)
        session.flush()
        if channel == "phone":
            session.add(models.Call(call_sid=f"CA{ticket.id}", from_number=requester, ticket_id=ticket.id,
                                    status="completed", started_at=RECEIVED, created_at=RECEIVED,
                                    updated_at=RECEIVED))
        return ticket.id


def import_customers(rt: Runtime, *rows: customers.CustomerRow) -> list[int]:
    """Import, link as `intake customers import` does at 11:00; the ids of the tickets linked."""
    with db.transaction(rt.sessions) as session:
        imported = customers.import_rows(session, rows, at("2026-03-02 11:00"))
        return [t.id for t in service.link_customers(session, service.context(rt), imported.customers,
                                                     at("2026-03-02 11:00"))]


def owner(rt: Runtime, ticket_id: int) -> tuple[str | None, str, str]:
    with rt.sessions() as session:
        ticket = session.get(models.Ticket, ticket_id)
        assert ticket is not None
        customer = session.get(models.Customer, ticket.customer_id) if ticket.customer_id else None
        return (customer.name if customer else None), ticket.tier, ticket.timezone


def test_tickets_of_a_new_customer_are_linked(runtime: Runtime) -> None:
    by_address = add_unlinked(runtime, "Zhang.Wei@huadong-power.cn")  # as the From header wrote it
    by_domain = add_unlinked(runtime, "li.na@huadong-power.cn", status=service.WAITING)
    resolved = add_unlinked(runtime, "zhang.wei@huadong-power.cn", status=service.RESOLVED)
    stranger = add_unlinked(runtime, "ann@mill.example.com")
    by_phone = add_unlinked(runtime, "+862155550100", channel="phone")
    huadong = customers.CustomerRow("华东电力", ("zhang.wei@huadong-power.cn",), ("huadong-power.cn",),
                                    ("+862155550100",), "24x7", "boss@support.example", "Asia/Tokyo")
    assert import_customers(runtime, huadong) == [by_address, by_domain, by_phone]
    assert owner(runtime, by_address) == owner(runtime, by_domain) == owner(runtime, by_phone) == (
        "华东电力", "24x7", "Asia/Tokyo")
    assert dues(runtime, by_address) == expected(runtime, "24x7")
    assert owner(runtime, resolved) == owner(runtime, stranger) == (None, "8x5", "Asia/Shanghai")
    assert dues(runtime, resolved) == expected(runtime, "8x5")  # judged by the terms it was resolved under
    with runtime.sessions() as session:
        call = session.scalar(select(models.Call).where(models.Call.ticket_id == by_phone))
        assert call is not None and call.customer_id is not None and call.updated_at == at("2026-03-02 11:00")
        ticket = session.get(models.Ticket, by_address)
        assert ticket is not None and ticket.updated_at == at("2026-03-02 11:00")
    assert import_customers(runtime, huadong) == []  # linked once


def test_an_address_outranks_a_domain_as_at_ingest(runtime: Runtime) -> None:
    li_na = customers.CustomerRow("Li Na Consulting", ("li.na@huadong-power.cn",), (), (), "8x5", None,
                                  "Asia/Shanghai")
    with db.transaction(runtime.sessions) as session:
        customers.upsert(session, li_na, at("2026-01-01 00:00"))
    ticket_id = add_unlinked(runtime, "li.na@huadong-power.cn")
    huadong = customers.CustomerRow("华东电力", (), ("huadong-power.cn",), (), "24x7", None, "Asia/Shanghai")
    assert import_customers(runtime, huadong) == []  # her address is another customer's
    assert owner(runtime, ticket_id)[0] is None
    assert import_customers(runtime, huadong, li_na) == [ticket_id]
    assert owner(runtime, ticket_id)[0] == "Li Na Consulting"
