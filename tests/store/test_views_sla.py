"""`sla` in a ticket's row: per clock its due, state and time left, the resolve clock standing still while
the ticket waits for the customer, and `none` for a clock the level promises nothing on."""

from __future__ import annotations

from pipeline.store import models, views
from tests.sla.helpers import at


def ticket(**changes: object) -> models.Ticket:
    values: dict[str, object] = dict(
        number="SR-000001", status="open", timezone="Asia/Shanghai", received_at=at("2026-03-02 10:00"),
        response_due=at("2026-03-02 10:15"), onsite_due=None, resolve_due=at("2026-03-02 14:00"),
        first_response_at=None, resolved_at=None, waiting_since=None)
    values.update(changes)
    return models.Ticket(**values)


def test_running_breached_met() -> None:
    row = views.sla_row(ticket(first_response_at=at("2026-03-02 10:20")), at("2026-03-02 13:00"))
    assert row["response"] == {"due": "2026-03-02T10:15:00+08:00", "state": "breached", "time_left_s": -300,
                               "paused": False}
    assert row["onsite"] == {"due": None, "state": "none", "time_left_s": None, "paused": False}  # not promised
    assert row["resolve"]["state"] == "running" and row["resolve"]["time_left_s"] == 3600
    resolved = views.sla_row(ticket(resolved_at=at("2026-03-02 13:30")), at("2026-03-03 09:00"))
    assert (resolved["resolve"]["state"], resolved["resolve"]["time_left_s"]) == ("met", 1800)
    assert resolved["onsite"]["state"] == "none"  # nothing promised, so nothing met either


def test_the_resolve_clock_stands_still_while_waiting() -> None:
    waiting = ticket(status="waiting", waiting_since=at("2026-03-02 12:00"))
    row = views.sla_row(waiting, at("2026-03-03 09:00"))  # a day later: still two hours left
    assert row["resolve"] == {"due": "2026-03-02T14:00:00+08:00", "state": "running", "time_left_s": 7200,
                              "paused": True}
    assert row["response"]["state"] == "breached"  # the response clock does not wait
    assert views.ticket_row(waiting, None, at("2026-03-03 09:00"))["sla"] == row


def test_the_onsite_clock_stops_at_the_engineers_arrival() -> None:
    onsite = dict(onsite_due=at("2026-03-02 12:00"), severity=1)
    on_time = views.ticket_row(ticket(**onsite, onsite_at=at("2026-03-02 11:30")), None, at("2026-03-02 13:00"))
    assert on_time["onsite_at"] == "2026-03-02T11:30:00+08:00"
    assert on_time["sla"]["onsite"] == {"due": "2026-03-02T12:00:00+08:00", "state": "met", "time_left_s": 1800,
                                        "paused": False}
    late = views.sla_row(ticket(**onsite, onsite_at=at("2026-03-02 12:10")), at("2026-03-02 13:00"))
    assert (late["onsite"]["state"], late["onsite"]["time_left_s"]) == ("breached", -600)
    # restored remotely before anyone arrived: that ends the on-site clock, and a later arrival changes nothing
    restored = ticket(**onsite, resolved_at=at("2026-03-02 11:00"), onsite_at=at("2026-03-02 12:30"))
    assert views.sla_row(restored, at("2026-03-02 13:00"))["onsite"]["state"] == "met"
    on_the_way = views.ticket_row(ticket(**onsite), None, at("2026-03-02 11:00"))
    assert on_the_way["onsite_at"] is None and on_the_way["sla"]["onsite"]["state"] == "running"


def test_a_level_without_a_promise_says_none_whatever_happened() -> None:
    for changes in ({}, {"onsite_at": at("2026-03-02 11:00")}, {"resolved_at": at("2026-03-02 11:30")}):
        row = views.sla_row(ticket(resolve_due=None, **changes), at("2026-03-03 09:00"))
        assert row["onsite"] == row["resolve"] == {"due": None, "state": "none", "time_left_s": None,
                                                   "paused": False}
    waiting = views.sla_row(ticket(resolve_due=None, status="waiting", waiting_since=at("2026-03-02 12:00")),
                            at("2026-03-03 09:00"))
    assert (waiting["resolve"]["state"], waiting["resolve"]["paused"]) == ("none", True)
