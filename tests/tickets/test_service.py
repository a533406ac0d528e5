"""Ticket rules on the store: an arrival on site, and a customer whose terms change under its open tickets."""

from __future__ import annotations

from datetime import datetime

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
    for arrival in ("2026-03-02 11:00", "2026-03-02 11:40"):
        with db.transaction(runtime.sessions) as session:
            ticket = session.get(models.Ticket, ticket_id)
            assert ticket is not None
            service.arrive_onsite(ticket, at(arrival))
            assert ticket.updated_at == at(arrival)
    with runtime.sessions() as session:
        ticket = session.scalar(select(models.Ticket).where(models.Ticket.id == ticket_id))
        assert ticket is not None and ticket.onsite_at == at("2026-03-02 11:00")
        assert ticket.onsite_due == at("2026-03-02 12:00")
