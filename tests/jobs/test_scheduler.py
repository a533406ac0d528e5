"""The planner against a real database (SQLite, and PostgreSQL when configured): each promise becomes one
job, moves with its deadline, is cancelled when met, and goes out once."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update

from pipeline.jobs import drafts, scheduler, sync, worker
from pipeline.records import RawInput
from pipeline.runtime import Runtime
from pipeline.store import db, models, queries, views
from pipeline.tickets import customers, ingest, service
from tests.conftest import make_settings, truncate_all
from tests.mailmaker import make_mail
from tests.sla.helpers import at


def add_customer(rt: Runtime, name: str, tier: str, domain: str, manager: str | None = "boss@support.example") -> None:
    row = customers.CustomerRow(name, (f"it@{domain}",), (domain,), (), tier, manager, "Asia/Shanghai")
    with db.transaction(rt.sessions) as session:
        customers.upsert(session, row, at("2026-01-01 00:00"))


def mail(rt: Runtime, received: datetime, subject: str, body: str, sender: str) -> str:
    rt.clock = lambda: received  # the mail is processed as it arrives: its ack is due then
    result, = ingest.ingest(rt, [RawInput(make_mail(subject, body, sender), "test", received)])
    assert result.ticket is not None
    return result.ticket


def jobs(rt: Runtime) -> dict[str, tuple[str, str, str | None]]:
    """dedupe key -> (status, due_at in Shanghai, recipient) of the planner's jobs."""
    with rt.sessions() as session:
        rows = session.scalars(select(models.Job).where(models.Job.kind != "ack"))
        return {job.dedupe_key or "": (job.status, job.due_at.astimezone(at("2026-01-01 00:00").tzinfo)
                                       .strftime("%m-%d %H:%M"), job.recipient) for job in rows}


def change(rt: Runtime, number: str, now: datetime, action) -> None:
    with db.transaction(rt.sessions) as session:
        ticket = queries.ticket_by_number(session, number)
        assert ticket is not None
        action(ticket)
        ticket.updated_at = now
        scheduler.plan_ticket(rt, session, ticket, now)


def test_each_promise_is_planned_once_and_sent_once(runtime: Runtime) -> None:
    add_customer(runtime, "华东电厂", "24x7", "plant.example.cn")
    received = at("2026-02-17 03:00")  # a public holiday: the 24x7 clock runs anyway
    mail(runtime, received, "核心交换机宕机", "全厂业务中断，请尽快处理。", "wang@plant.example.cn")
    assert scheduler.plan(runtime, received) == 9  # 3 clocks x (warning, escalation); Q2's inspection (3)
    assert scheduler.plan(runtime, received + timedelta(minutes=1)) == 0
    planned = jobs(runtime)
    assert planned["sla_escalation:1:response"] == ("pending", "02-17 03:15", "boss@support.example")
    assert planned["sla_warning:1:response"] == ("pending", "02-17 03:11", "service@support.example")
    sent = worker.run_due(runtime, at("2026-02-17 03:16"))
    assert sorted(o.kind for o in sent) == ["ack", "sla_escalation", "sla_warning"]
    assert worker.run_due(runtime, at("2026-02-17 03:16")) == []
    assert scheduler.plan(runtime, at("2026-02-17 03:17")) == 0  # what was sent is never planned again


def test_response_cancels_its_clock_and_severity_moves_it(runtime: Runtime) -> None:
    add_customer(runtime, "Mill Co", "8x5", "mill.example.com")
    number = mail(runtime, at("2026-03-02 10:00"), "Question on SNMP", "How do I configure SNMP?",
                  "ann@mill.example.com")
    scheduler.plan(runtime, at("2026-03-02 10:00"))
    assert jobs(runtime)["sla_escalation:1:response"][:2] == ("pending", "03-03 17:30")  # level 4
    change(runtime, number, at("2026-03-02 10:05"), lambda t: (
        setattr(t, "severity", 2), service.apply_deadlines(service.context(runtime), t, None)))
    assert jobs(runtime)["sla_escalation:1:response"][:2] == ("pending", "03-02 10:30")  # level 2: 30 min
    change(runtime, number, at("2026-03-02 10:20"), lambda t: service.respond(t, at("2026-03-02 10:20")))
    planned = jobs(runtime)
    assert planned["sla_escalation:1:response"][0] == "cancelled"
    assert planned["sla_warning:1:response"][0] == "cancelled"
    assert planned["sla_escalation:1:resolve"][0] == "pending"


def test_escalation_on_request_goes_to_the_regional_manager_at_once(runtime: Runtime) -> None:
    add_customer(runtime, "华东电厂", "24x7", "plant.example.cn", manager="li.manager@support.example")
    received = at("2026-03-02 10:00")
    number = mail(runtime, received, "投诉：三天没人处理", "我要投诉，找你们经理。", "wang@plant.example.cn")
    scheduler.plan(runtime, received)
    assert jobs(runtime)["escalation:1"] == ("pending", "03-02 10:00", "li.manager@support.example")
    outcome, = [o for o in worker.run_due(runtime, received) if o.kind == "escalation"]
    assert outcome.status == "sent"
    with runtime.sessions() as session:
        ticket = queries.ticket_by_number(session, number)
        assert ticket is not None
        row = views.ticket_row(ticket, None, received)
        job = session.scalar(select(models.Job).where(models.Job.dedupe_key == "escalation:1"))
    assert row["escalated"] is True and row["escalated_at"] == "2026-03-02T10:00:00+08:00"
    assert job is not None and "投诉" in (job.body_text or "") and number in (job.subject or "")


def test_a_met_deadline_is_cancelled_not_sent_even_if_planning_lagged(runtime: Runtime) -> None:
    received = at("2026-03-02 10:00")
    number = mail(runtime, received, "Board down", "The board is down, service interrupted.",
                  "ann@mill.example.com")
    scheduler.plan(runtime, received)
    with db.transaction(runtime.sessions) as session:  # another process recorded the response, unplanned
        ticket = queries.ticket_by_number(session, number)
        assert ticket is not None
        ticket.first_response_at = at("2026-03-02 10:05")
    outcomes = {o.kind: o.status for o in worker.run_due(runtime, at("2026-03-02 10:20"))}
    assert outcomes["sla_warning"] == "cancelled"


def test_resolution_plans_a_revisit_and_reopening_cancels_it(runtime: Runtime) -> None:
    number = mail(runtime, at("2026-03-02 10:00"), "Board alarm", "Board 3 shows an alarm.", "ann@mill.example.com")
    change(runtime, number, at("2026-03-03 16:00"), lambda t: service.resolve(t, at("2026-03-03 16:00")))
    planned = jobs(runtime)
    assert planned["revisit:1:2026-03-06"][:2] == ("pending", "03-06 09:00")
    assert planned["revisit_reminder:1:2026-03-06"][:2] == ("pending", "03-05 09:00")
    assert all(status == "cancelled" for key, (status, *_) in planned.items() if key.startswith("sla_"))
    change(runtime, number, at("2026-03-04 09:00"), lambda t: service.reopen(t, at("2026-03-04 09:00")))
    assert jobs(runtime)["revisit:1:2026-03-06"][0] == "cancelled"
    with runtime.sessions() as session:
        visit, = session.scalars(select(models.Visit))
    assert (visit.kind, visit.status) == ("revisit", "cancelled")


def test_old_tickets_plan_nothing_stale(runtime: Runtime) -> None:
    mail(runtime, at("2025-06-02 10:00"), "Board alarm", "Board 3 shows an alarm.", "ann@mill.example.com")
    assert scheduler.plan(runtime, at("2026-03-02 10:00")) == 0


MOBILE, LANDLINE = "+8613800138000", "+862155550100"


@pytest.mark.parametrize(("sms", "caller", "ended_after", "notice"), [
    # no SMS: nobody is mailed instead, since nothing tells that it@plant.example.cn is the person who called
    (False, MOBILE, timedelta(seconds=30), None),
    (True, MOBILE, timedelta(seconds=30), ("pending", "03-02 22:01", MOBILE)),  # sms_delay_s after the end
    (True, MOBILE, None, None),  # no final report yet: the caller may still be on the line
    (True, LANDLINE, timedelta(seconds=30), None),  # a landline cannot take an SMS
])
def test_missed_call_reminds_the_engineer_and_tells_only_the_caller(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest, sms: bool, caller: str,
        ended_after: timedelta | None, notice: tuple[str, str, str] | None) -> None:
    overrides: dict[str, Any] = dict(twilio_account_sid="AC" + "0" * 32, twilio_number="+864001234567") if sms else {}
    if backend == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    runtime = Runtime.open(make_settings(tmp_path, **overrides))
    if backend == "postgresql":
        truncate_all(runtime)
    add_customer(runtime, "华东电厂", "24x7", "plant.example.cn")
    now = at("2026-03-02 22:00")
    with db.transaction(runtime.sessions) as session:
        session.add(models.Call(call_sid="CA1", from_number=caller, customer_id=1, status="no-answer",
                                started_at=now, ended_at=now + ended_after if ended_after else None,
                                callback_due=now + timedelta(minutes=15), created_at=now, updated_at=now))
    scheduler.plan(runtime, now)
    planned = jobs(runtime)
    assert planned["callback_reminder:1"] == ("pending", "03-02 22:05", "service@support.example")
    assert planned.get("callback_notice:1") == notice
    if notice:
        with runtime.sessions() as session:
            row = session.scalar(select(models.Job).where(models.Job.dedupe_key == "callback_notice:1"))
        assert row is not None and row.channel == "sms" and "22:15" in (row.body_text or "")
    runtime.close()


def test_inspection_invitation_carries_an_ics(runtime: Runtime, tmp_path: Path) -> None:
    add_customer(runtime, "华东电厂", "24x7", "plant.example.cn")
    scheduler.plan(runtime, at("2026-04-08 08:00"))
    planned = jobs(runtime)
    assert planned["visit_invitation:inspection:1:2026-04"] == ("pending", "04-08 09:00", "it@plant.example.cn")
    sent = worker.run_due(runtime, at("2026-04-08 09:00"))
    assert [o.kind for o in sent] == ["visit_invitation"]
    written, = (tmp_path / "outbox").glob("*visit_invitation*.eml")
    message = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    calendar, = message.iter_attachments()
    assert calendar.get_content_type() == "text/calendar" and calendar.get_param("method") == "REQUEST"
    text = calendar.get_payload(decode=True).decode()
    assert "DTSTART:20260415T020000Z" in text and "ATTENDEE" in text and "\r\n" in text
    assert "2026-04-15" in message.get_body(("plain",)).get_content()


def test_plan_marks_skip_unchanged_tickets(runtime: Runtime) -> None:
    number = mail(runtime, at("2026-03-02 10:00"), "Board alarm", "Board 3 shows an alarm.", "ann@mill.example.com")
    scheduler.plan(runtime, at("2026-03-02 10:00"))
    with db.transaction(runtime.sessions) as session:  # changed behind the planner's back, updated_at kept
        ticket = queries.ticket_by_number(session, number)
        assert ticket is not None
        ticket.first_response_at = at("2026-03-02 10:05")
    scheduler.plan(runtime, at("2026-03-02 10:06"))  # same local day: only changed tickets are replanned
    assert jobs(runtime)["sla_escalation:1:response"][0] == "pending"
    with db.transaction(runtime.sessions) as session:
        ticket = queries.ticket_by_number(session, number)
        assert ticket is not None
        ticket.updated_at = datetime.now(UTC)
    scheduler.plan(runtime, at("2026-03-02 10:07"))
    assert jobs(runtime)["sla_escalation:1:response"][0] == "cancelled"


def test_a_retried_job_keeps_the_workers_backoff(runtime: Runtime) -> None:
    number = mail(runtime, at("2026-03-02 10:00"), "Board down", "The board is down, service interrupted.",
                  "ann@mill.example.com")
    scheduler.plan(runtime, at("2026-03-02 10:00"))
    retry_at = at("2026-03-02 10:30")
    with db.transaction(runtime.sessions) as session:  # the relay was down: the worker backs off
        job = session.scalar(select(models.Job).where(models.Job.dedupe_key == "sla_warning:1:response"))
        assert job is not None
        job.attempts, job.due_at = 1, retry_at
    change(runtime, number, at("2026-03-02 10:12"), lambda t: None)  # the ticket changes: it is replanned
    assert jobs(runtime)["sla_warning:1:response"][:2] == ("pending", "03-02 10:30")


def test_a_missed_call_is_replanned_when_it_or_its_ticket_changes(runtime: Runtime) -> None:
    now = at("2026-03-02 22:00")
    number = mail(runtime, now - timedelta(minutes=5), "Board down", "Board 3 is down.", "ann@mill.example.com")
    with db.transaction(runtime.sessions) as session:
        ticket = queries.ticket_by_number(session, number)
        assert ticket is not None
        session.add(models.Call(call_sid="CA1", from_number="+8613800138000", ticket_id=ticket.id, status="no-answer",
                                started_at=now, ended_at=now, callback_due=now + timedelta(minutes=15),
                                created_at=now, updated_at=now))
    scheduler.plan(runtime, now)  # the day's first pass
    assert jobs(runtime)["callback_reminder:1"][:2] == ("pending", "03-02 22:05")
    with db.transaction(runtime.sessions) as session:  # changed behind the planner's back, updated_at kept
        call = session.scalar(select(models.Call))
        assert call is not None
        call.callback_due = now + timedelta(minutes=30)
    scheduler.plan(runtime, now + timedelta(minutes=1))  # same day: an unchanged call is not replanned
    assert jobs(runtime)["callback_reminder:1"][:2] == ("pending", "03-02 22:05")
    with db.transaction(runtime.sessions) as session:
        call = session.scalar(select(models.Call))
        assert call is not None
        call.updated_at = now + timedelta(minutes=1)
    scheduler.plan(runtime, now + timedelta(minutes=2))  # the call changed: its reminder moves
    assert jobs(runtime)["callback_reminder:1"][:2] == ("pending", "03-02 22:20")
    assert "callback_notice:1" not in jobs(runtime)  # ann's ticket, but ann did not call: she is told nothing
    change(runtime, number, now + timedelta(minutes=3),
           lambda t: setattr(t, "first_response_at", now + timedelta(minutes=3)))
    scheduler.plan(runtime, now + timedelta(minutes=4))  # its ticket was answered: nothing more is owed
    assert jobs(runtime)["callback_reminder:1"][0] == "cancelled"


def missed_call(rt: Runtime, number: str, sid: str, caller: str, started: datetime, **columns: Any) -> None:
    """A call on ticket `number` from `caller`, missed unless `columns` say otherwise."""
    values: dict[str, Any] = dict(status="no-answer", ended_at=started + timedelta(seconds=30),
                                  callback_due=started + timedelta(minutes=15))
    values.update(columns)
    with db.transaction(rt.sessions) as session:
        ticket = queries.ticket_by_number(session, number)
        assert ticket is not None
        session.add(models.Call(call_sid=sid, from_number=caller, ticket_id=ticket.id, started_at=started,
                                created_at=started, updated_at=started, **values))


@pytest.mark.parametrize(("caller", "outcome"), [
    ("+8613800138000", "cancelled"),  # the same caller was answered since: the reminder is moot
    ("+8613800138099", "sent"),  # a colleague was answered: this caller still waits for the callback
])
def test_an_answer_to_the_caller_cancels_the_reminder_at_send_time(runtime: Runtime, caller: str,
                                                                   outcome: str) -> None:
    now = at("2026-03-02 22:00")
    number = mail(runtime, now - timedelta(minutes=5), "Board down", "Board 3 is down.", "ann@mill.example.com")
    missed_call(runtime, number, "CA1", "+8613800138000", now)
    scheduler.plan(runtime, now)
    assert jobs(runtime)["callback_reminder:1"][:2] == ("pending", "03-02 22:05")
    # answered after the plan, and no pass ran since: only the worker's own check can tell
    missed_call(runtime, number, "CA2", caller, now + timedelta(minutes=2), status="completed",
                dial_status="completed", callback_due=None)
    sent = {o.kind: o for o in worker.run_due(runtime, now + timedelta(minutes=5))}
    assert sent["callback_reminder"].status == outcome
    if outcome == "cancelled":
        assert sent["callback_reminder"].detail == drafts.ANSWERED_SINCE


def test_a_caller_who_retries_is_reminded_of_once_per_window(runtime: Runtime) -> None:
    now = at("2026-03-02 22:00")
    number = mail(runtime, now - timedelta(minutes=5), "Board down", "Board 3 is down.", "ann@mill.example.com")
    for n in range(6):  # six misses in five minutes, each due to be called back 15 minutes later
        missed_call(runtime, number, f"CA{n + 1}", "+8613800138000", now + timedelta(minutes=n))
    missed_call(runtime, number, "CA7", "+8613800138099", now + timedelta(minutes=2))  # a colleague's call
    scheduler.plan(runtime, now + timedelta(minutes=6))
    reminders = {key: value for key, value in jobs(runtime).items() if key.startswith("callback_")}
    assert reminders == {"callback_reminder:1": ("pending", "03-02 22:05", "service@support.example"),
                         "callback_reminder:7": ("pending", "03-02 22:07", "service@support.example")}
    with db.transaction(runtime.sessions) as session:  # the first one went out: it stands for the retries still
        session.execute(update(models.Job).where(models.Job.dedupe_key == "callback_reminder:1").values(status="sent"))
    change(runtime, number, now + timedelta(minutes=7), lambda t: None)  # the ticket and its calls are replanned
    missed_call(runtime, number, "CA8", "+8613800138000", now + timedelta(minutes=16))  # after 22:15: a new window
    change(runtime, number, now + timedelta(minutes=16), lambda t: None)
    reminders = {key: value[:2] for key, value in jobs(runtime).items() if key.startswith("callback_")}
    assert reminders == {"callback_reminder:1": ("sent", "03-02 22:05"),
                         "callback_reminder:7": ("pending", "03-02 22:07"),
                         "callback_reminder:8": ("pending", "03-02 22:21")}


@pytest.mark.parametrize("backend", ["sqlite"])  # SQLite's one write lock is what this is about
def test_planning_decides_without_holding_the_write_lock(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        mail(runtime, at("2026-03-02 10:00"), f"Board {n} alarm", "An alarm.", f"user{n}@mill.example.com")
    other = create_engine(runtime.settings.database_url, connect_args={"timeout": 0.2})  # no waiting
    written = []
    draft = drafts.Drafter.draft

    def draft_and_write_beside(self: drafts.Drafter, *args: object, **kwargs: object) -> object:
        if not written:  # the planner is deciding: another writer gets the lock at once
            with other.begin() as connection:
                connection.execute(text("UPDATE customers SET name = name"))
            written.append(True)
        return draft(self, *args, **kwargs)

    monkeypatch.setattr(drafts.Drafter, "draft", draft_and_write_beside)
    assert scheduler.plan(runtime, at("2026-03-02 10:00")) > 0 and written
    other.dispose()


def stale_move(runtime: Runtime) -> tuple[int, sync.Changes]:
    """A planner that decided on the pending sla_warning (move it a day later and cancel it), not written yet."""
    mail(runtime, at("2026-03-02 10:00"), "Board down", "Board 3 is down.", "ann@mill.example.com")
    scheduler.plan(runtime, at("2026-03-02 10:00"))
    with runtime.sessions() as session:
        job = session.scalar(select(models.Job).where(models.Job.dedupe_key == "sla_warning:1:response"))
        assert job is not None
        stale = sync.Changes(at("2026-03-02 10:01"))
        moved = {name: getattr(job, name) for name in sync.MOVED_FIELDS}
        stale.moved_jobs.append({"job_id": job.id, "seen_status": "pending", **moved, "due_at": at("2026-03-03 10:00")})
        stale.cancelled_jobs.append(job.id)
        return job.id, stale


@pytest.mark.parametrize("meanwhile", ["sent", "cancelled"])
def test_a_job_sent_or_cancelled_after_the_snapshot_stays_so(runtime: Runtime, meanwhile: str) -> None:
    job_id, stale = stale_move(runtime)
    with db.transaction(runtime.sessions) as session:  # between the planner's read and its write
        session.execute(update(models.Job).where(models.Job.id == job_id).values(status=meanwhile))
    with db.transaction(runtime.sessions) as session:
        stale.write(session)
    assert jobs(runtime)["sla_warning:1:response"][:2] == (meanwhile, "03-02 10:11")  # as it was





def test_a_ticket_that_cannot_be_planned_stops_no_other(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    add_customer(runtime, "华东电厂", "24x7", "plant.example.cn")
    mail(runtime, at("2026-03-02 10:00"), "核心交换机宕机", "全厂业务中断。", "wang@plant.example.cn")
    mail(runtime, at("2026-03-02 10:00"), "Board down", "Board 3 is down.", "ann@mill.example.com")
    with db.transaction(runtime.sessions) as session:  # overrides an edited policy no longer takes
        session.execute(update(models.Customer).values(policy_overrides={"sla": 1}))
    scheduler.plan(runtime, at("2026-03-02 10:00"))
    planned = jobs(runtime)
    assert "sla_warning:2:response" in planned and not any(key.endswith(":1:response") for key in planned)
    assert "cannot plan ticket SR-000001" in caplog.text
