"""The hotline's write side over HTTP, on SQLite and PostgreSQL: call log, tickets, missed-call jobs.

Each test serves intake's app (uvicorn, loopback) on a Runtime with a fixed clock and posts requests
signed as Twilio signs them: the payload samples of ../shared/corpus/twilio and fixtures/twilio.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from pipeline.jobs import scheduler
from pipeline.runtime import Runtime
from pipeline.store import db, models, queries, views
from pipeline.tickets import customers
from tests.conftest import SERVICE, make_settings, truncate_all
from tests.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL, AppServer, Twilio, sample

MONDAY_10 = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working day
MONDAY_22 = datetime(2026, 11, 16, 14, 0, tzinfo=UTC)  # 22:00
ENGINEER, NIGHT_ENGINEER = "+8613900139000", "+8613700137000"
CALLER = "+8613800138000"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def open_runtime(tmp_path: Path, backend: str, request: pytest.FixtureRequest, hotline: dict[str, Any],
                 **settings: Any) -> Runtime:
    overrides: dict[str, Any] = dict(
        public_url=PUBLIC_URL, twilio_auth_token=AUTH_TOKEN, twilio_account_sid=ACCOUNT_SID, twilio_number=OUR_NUMBER,
        hotline=hotline, **settings)
    if backend == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    runtime = Runtime.open(make_settings(tmp_path, **overrides))
    if backend == "postgresql":
        truncate_all(runtime)
    runtime.clock = lambda: MONDAY_10
    return runtime


@pytest.fixture
def rt(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    runtime = open_runtime(tmp_path, backend, request, {"on_call": [ENGINEER], "after_hours_on_call": [NIGHT_ENGINEER]})
    yield runtime
    runtime.close()


@pytest.fixture
def twilio(rt: Runtime) -> Iterator[Twilio]:
    with AppServer(rt) as app:
        client = Twilio(app.base)
        yield client
        client.close()


def payload(name: str, sid: str, **changes: str) -> dict[str, str]:
    """A fixture payload re-addressed to call `sid` (its engineer's leg gets a sid derived from it)."""
    params = sample(name)
    if "ParentCallSid" in params:
        params["ParentCallSid"], params["CallSid"] = sid, "CL" + sid[2:]
    else:
        params["CallSid"] = sid
    return {**params, **changes}


PATHS = {"voice": "/hotline/voice", "gather": "/hotline/voice?step=language", "dial": "/hotline/voice?step=dialed",
         "record": "/hotline/voice?step=recorded", "status": "/hotline/status", "recording": "/hotline/recording",
         "transcription": "/hotline/transcription"}


def post(twilio: Twilio, kind: str, params: dict[str, str]) -> str:
    answer = twilio.post(PATHS[kind], params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    return answer.text


def detail(rt: Runtime, sid: str) -> dict[str, Any]:
    with rt.sessions() as session:
        found = queries.call_by_sid(session, sid)
        assert found is not None
        return views.call_detail(session, found, "Asia/Shanghai")


def jobs(rt: Runtime) -> list[models.Job]:
    with rt.sessions() as session:
        return list(session.scalars(select(models.Job).order_by(models.Job.id)))


ANSWERED = [("voice", "voice-inbound-cn"), ("status", "status-ringing"), ("status", "dial-leg-initiated"),
            ("status", "dial-leg-ringing"), ("status", "status-in-progress"), ("status", "dial-leg-answered"),
            ("status", "dial-leg-completed"), ("dial", "dial-action-completed"), ("status", "status-completed")]


def test_answered_call_in_order_out_of_order_and_retried_ends_the_same(rt: Runtime, twilio: Twilio) -> None:
    finals = []
    for kind, name in ANSWERED:
        post(twilio, kind, payload(name, "CA" + "0" * 32))
    assert jobs(rt) == []  # in order, nobody was ever missed
    for number, order in enumerate([ANSWERED, ANSWERED[::-1], ANSWERED[3:] + ANSWERED[:3]]):
        sid = f"CA{number:031d}X"
        for kind, name in order + order[::2]:  # every other request retried
            post(twilio, kind, payload(name, sid))
        row = detail(rt, sid)
        assert len(row["callbacks"]) == len(ANSWERED)  # retries stored once
        finals.append({k: row[k] for k in ("status", "call_status", "dial_status", "answered_by", "duration",
                                           "missed", "callback_due", "from", "to", "caller_country")})
        assert row["answered_at"] == "2026-11-16T10:00:07+08:00"
    assert finals[0] == finals[1] == finals[2] == {
        "status": "completed", "call_status": "completed", "dial_status": "completed", "answered_by": ENGINEER,
        "duration": 110, "missed": None, "callback_due": None, "from": CALLER, "to": OUR_NUMBER,
        "caller_country": "CN"}
    # the caller's "completed" came before any answer: a miss was assumed, then the answer cancelled it
    assert {job.status for job in jobs(rt)} == {"cancelled"}
    with rt.sessions() as session:  # one caller, one open ticket: the later calls joined the first one
        tickets = queries.tickets(session)
        assert [(t.channel, t.severity, t.requester, t.status) for t in tickets] == [("phone", 2, CALLER, "open")]
        assert [m.kind for m in queries.ticket_messages(session, tickets[0].id)] == ["call"] * 4


def test_missed_call_takes_voicemail_and_schedules_callback_and_sms(rt: Runtime, twilio: Twilio) -> None:
    sid = "CA" + "5" * 32
    greeting = post(twilio, "voice", payload("voice-inbound-cn", sid))
    assert "<Dial" in greeting and ENGINEER in greeting
    assert "<Record" in post(twilio, "dial", payload("dial-action-no-answer", sid))
    post(twilio, "status", payload("dial-leg-no-answer", sid))
    # missed, and the engineer is reminded at once; the caller is still leaving a voicemail: no SMS yet
    assert [j.kind for j in jobs(rt)] == ["callback_reminder"]
    rt.clock = lambda: MONDAY_10 + timedelta(minutes=2)  # the voicemail ends two minutes later
    post(twilio, "record", payload("record-action", sid))
    recording = {**sample("recording-completed-footing"), "CallSid": sid}
    transcription = {**sample("transcription-voicemail-inbound-hellechat"), "CallSid": sid,
                     "TranscriptionText": "Hello, the core switch is down and the whole plant is offline. Urgent."}
    for _ in range(2):  # Twilio retries: nothing doubles
        post(twilio, "recording", recording)
        post(twilio, "transcription", transcription)
        post(twilio, "status", payload("status-completed", sid))
    row = detail(rt, sid)
    assert (row["status"], row["missed"], row["route"]) == ("no-answer", "no-answer", "voicemail")
    # 8x5 caller: one business hour, but the new level-2 ticket promised a response in 30 minutes
    assert row["callback_due"] == "2026-11-16T10:30:00+08:00"
    assert row["recording_url"] == payload("record-action", sid)["RecordingUrl"]  # the first one we heard of
    assert row["transcription"].endswith("Urgent.") and row["transcription_source"] == "twilio"
    kinds = [(j.kind, j.channel, j.recipient) for j in jobs(rt)]
    assert kinds == [("callback_reminder", "sms", ENGINEER), ("callback_notice", "sms", CALLER)]
    reminder, notice = jobs(rt)
    assert reminder.due_at == MONDAY_10 + timedelta(minutes=25)
    # sms_delay_s after the voicemail ended: a late answer report may still cancel it
    assert notice.due_at == MONDAY_10 + timedelta(minutes=2, seconds=60)
    assert "SR-000001" in notice.body_text and "10:30" in notice.body_text and "来电" in notice.body_text
    assert CALLER in reminder.body_text and "无人接听" in reminder.body_text
    with rt.sessions() as session:
        ticket = queries.tickets(session)[0]
        assert (ticket.severity, ticket.severity_reason.startswith("voicemail: level 1")) == (1, True)
        messages = [(m.kind, m.text[:20]) for m in queries.ticket_messages(session, ticket.id)]
        assert [kind for kind, _ in messages] == ["call", "voicemail", "voicemail"]
        assert ticket.response_due == MONDAY_10 + timedelta(minutes=15)  # level 1 now


def test_language_key_press_is_stored_and_answers_in_that_language(rt: Runtime, twilio: Twilio) -> None:
    sid = "CA" + "6" * 32
    post(twilio, "voice", payload("voice-inbound-cn", sid))
    answer = post(twilio, "gather", payload("gather-english", sid))
    assert 'language="en-US"' in answer and "zh-CN" not in answer
    row = detail(rt, sid)
    assert (row["language"], row["language_chosen"]) == ("en", True)
    with rt.sessions() as session:
        ticket = queries.tickets(session)[0]
        assert (ticket.language, ticket.subject) == ("en", f"Hotline call from {CALLER}")


def test_known_caller_joins_the_open_ticket_and_a_new_customer_gets_one(rt: Runtime, twilio: Twilio) -> None:
    with db.transaction(rt.sessions) as session:
        mill = customers.upsert(session, customers.parse_row(
            {"name": "Mill Co", "emails": "ann@mill.example.com", "phones": "021-5555 0100", "tier": "24x7"},
            "Asia/Shanghai"), MONDAY_10)
        plant = customers.upsert(session, customers.parse_row(
            {"name": "Plant", "phones": "138 0013 8111", "tier": "8x5"}, "Asia/Shanghai"), MONDAY_10)
        open_ticket = models.Ticket(subject="核心交换机宕机", status="waiting", channel="email", language="zh-Hans",
                                    severity=1, customer_id=mill.id, requester="ann@mill.example.com", tier="24x7",
                                    timezone="Asia/Shanghai", received_at=MONDAY_10 - timedelta(hours=1), paused_s=0,
                                    waiting_since=MONDAY_10 - timedelta(minutes=30), created_at=MONDAY_10,
                                    updated_at=MONDAY_10)
        session.add(open_ticket)
        session.flush()
        open_ticket.number, mill_id, plant_id = "SR-000777", mill.id, plant.id
    post(twilio, "voice", payload("voice-inbound-cn", "CA" + "7" * 32, From="+862155550100", Caller="+862155550100"))
    post(twilio, "voice", payload("voice-inbound-cn", "CA" + "8" * 32, From="+8613800138111", Caller="+8613800138111"))
    first, second = detail(rt, "CA" + "7" * 32), detail(rt, "CA" + "8" * 32)
    assert (first["customer"], first["ticket"], first["opened_ticket"]) == ("Mill Co", "SR-000777", False)
    assert (second["customer"], second["opened_ticket"]) == ("Plant", True)
    with rt.sessions() as session:
        joined = queries.ticket_by_number(session, "SR-000777")
        assert joined is not None and joined.status == "open" and joined.paused_s == 1800  # the customer is back
        new = queries.ticket_by_number(session, second["ticket"])
        assert new is not None and (new.customer_id, new.tier, new.channel) == (plant_id, "8x5", "phone")
        assert mill_id != plant_id


@pytest.mark.parametrize(("tier", "route", "callback_due"), [
    # night: voicemail; one hour after tomorrow's opening, but the new ticket's response is due at 09:30
    ("8x5", "voicemail", "2026-11-17T09:30:00+08:00"),
    ("24x7", "dial", None),  # night: the night engineer is rung for 24x7 customers
])
def test_at_night_only_24x7_customers_are_put_through(rt: Runtime, twilio: Twilio, tier: str, route: str,
                                                       callback_due: str | None) -> None:
    rt.clock = lambda: MONDAY_22
    with db.transaction(rt.sessions) as session:
        customers.upsert(session, customers.parse_row({"name": "Night Co", "phones": CALLER, "tier": tier},
                                                      "Asia/Shanghai"), MONDAY_22)
    sid = "CA" + "9" * 32
    answer = post(twilio, "voice", payload("voice-inbound-cn", sid))
    assert ("<Dial" in answer, NIGHT_ENGINEER in answer, "<Record" in answer) == (
        route == "dial", route == "dial", route == "voicemail")
    row = detail(rt, sid)
    assert (row["route"], row["callback_due"]) == (route, callback_due)
    if route == "dial":  # the engineer does not answer: 24x7 callback within 15 minutes
        post(twilio, "dial", payload("dial-action-no-answer", sid))
        assert detail(rt, sid)["callback_due"] == "2026-11-16T22:15:00+08:00"


def test_an_answer_cancels_what_an_earlier_miss_scheduled(rt: Runtime, twilio: Twilio) -> None:
    post(twilio, "voice", payload("voice-inbound-cn", "CA" + "a" * 32))
    post(twilio, "dial", payload("dial-action-no-answer", "CA" + "a" * 32))
    post(twilio, "record", payload("record-action", "CA" + "a" * 32))  # the voicemail is over: the SMS waits
    post(twilio, "voice", payload("voice-inbound-cn", "CA" + "b" * 32))
    post(twilio, "status", payload("dial-leg-answered", "CA" + "b" * 32))
    assert {(j.kind, j.status) for j in jobs(rt)} == {("callback_reminder", "cancelled"),
                                                      ("callback_notice", "cancelled")}
    assert detail(rt, "CA" + "b" * 32)["status"] == "in-progress"


COLLEAGUE = "+8613800138099"  # another mobile of the same customer


def mill_with_two_phones(rt: Runtime) -> None:
    """Both numbers are Mill Co's: calls from either join its one open ticket."""
    with db.transaction(rt.sessions) as session:
        customers.upsert(session, customers.parse_row(
            {"name": "Mill Co", "phones": f"{CALLER};{COLLEAGUE}", "tier": "8x5"}, "Asia/Shanghai"), MONDAY_10)


@pytest.mark.parametrize(("answered_caller", "expected"), [
    # the caller again: the first call owes nothing more, neither the hotline's notice nor the planner's
    (CALLER, [("callback_reminder", "cancelled")]),
    # a colleague on the same ticket was answered, not this caller: their reminder and notice stand
    (COLLEAGUE, [("callback_reminder", "pending"), ("callback_notice", "pending")]),
])
def test_a_missed_call_that_ends_after_an_answer_owes_no_notice(rt: Runtime, twilio: Twilio, answered_caller: str,
                                                                  expected: list[tuple[str, str]]) -> None:
    mill_with_two_phones(rt)
    missed, answered = "CA" + "a" * 31 + "1", "CA" + "b" * 31 + "1"
    post(twilio, "voice", payload("voice-inbound-cn", missed))
    post(twilio, "dial", payload("dial-action-no-answer", missed))  # leaving a voicemail, meanwhile ...
    post(twilio, "voice", payload("voice-inbound-cn", answered, From=answered_caller, Caller=answered_caller))
    post(twilio, "status", payload("dial-leg-answered", answered))  # ... a call on the ticket is answered
    post(twilio, "status", payload("status-completed", missed))  # the first caller hangs up
    assert detail(rt, missed)["ticket"] == detail(rt, answered)["ticket"]
    assert [(j.kind, j.status) for j in call_jobs(rt)] == expected
    scheduler.plan(rt, MONDAY_10 + timedelta(minutes=3))  # the planner adds nothing the hotline withheld
    assert [(j.kind, j.status) for j in call_jobs(rt)] == expected


def test_an_answer_cancels_only_what_that_callers_calls_scheduled(rt: Runtime, twilio: Twilio) -> None:
    mill_with_two_phones(rt)
    mine, colleagues, again = "CA" + "a" * 31 + "2", "CA" + "b" * 31 + "2", "CA" + "c" * 31 + "2"
    for sid, number in ((mine, CALLER), (colleagues, COLLEAGUE)):  # both missed, both voicemails over
        post(twilio, "voice", payload("voice-inbound-cn", sid, From=number, Caller=number))
        post(twilio, "dial", payload("dial-action-no-answer", sid))
        post(twilio, "record", payload("record-action", sid))
    scheduler.plan(rt, MONDAY_10)
    post(twilio, "voice", payload("voice-inbound-cn", again))  # the first caller calls again and is answered
    post(twilio, "status", payload("dial-leg-answered", again))
    left = {(j.kind, j.status, (j.payload or {}).get("caller")) for j in call_jobs(rt)}
    assert left == {("callback_reminder", "cancelled", CALLER), ("callback_notice", "cancelled", CALLER),
                    ("callback_reminder", "pending", COLLEAGUE), ("callback_notice", "pending", COLLEAGUE)}
    scheduler.plan(rt, MONDAY_10 + timedelta(minutes=1))
    assert {(j.kind, j.status, (j.payload or {}).get("caller")) for j in call_jobs(rt)} == left


def test_a_caller_who_retries_gets_one_notice_and_one_reminder_per_window(rt: Runtime, twilio: Twilio) -> None:
    sids = [f"CA{n:031d}R" for n in range(7)]
    for n, sid in enumerate(sids[:6]):  # six misses in five minutes, each over before the next
        rt.clock = lambda n=n: MONDAY_10 + timedelta(seconds=50 * n)
        post(twilio, "voice", payload("voice-inbound-cn", sid))
        post(twilio, "dial", payload("dial-action-no-answer", sid))
        post(twilio, "status", payload("status-completed", sid, Timestamp=""))
        if n == 2:  # the first notice and reminder went out: they stand for the later calls all the same
            with db.transaction(rt.sessions) as session:
                session.execute(update(models.Job).values(status="sent", sent_at=rt.now()))
    scheduler.plan(rt, MONDAY_10 + timedelta(minutes=5))
    assert planned(rt) == [("callback_reminder", "sms", ENGINEER, "10:25:00"), ("callback_notice", "sms", CALLER,
                                                                                "10:01:00")]
    assert [(j.payload or {}).get("call_sid") for j in call_jobs(rt)] == [sids[0], sids[0]]
    dues = [detail(rt, sid)["callback_due"] for sid in sids[:6]]  # each call still shows its own
    assert dues == ["2026-11-16T10:30:00+08:00"] * 6  # the new ticket's response, due at 10:30, comes first
    rt.clock = lambda: MONDAY_10 + timedelta(minutes=31)  # after the first call's callback was due: a new window
    post(twilio, "voice", payload("voice-inbound-cn", sids[6]))
    post(twilio, "dial", payload("dial-action-no-answer", sids[6]))
    post(twilio, "status", payload("status-completed", sids[6], Timestamp=""))
    assert [(j.payload or {}).get("call_sid") for j in call_jobs(rt)] == [sids[0], sids[0], sids[6], sids[6]]


@pytest.mark.parametrize("on_call", [[ENGINEER], []])  # the hotline reminds the engineer, or the planner does
def test_retries_get_no_more_from_the_planner_either(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                                                     on_call: list[str]) -> None:
    rt = open_runtime(tmp_path, backend, request, {"on_call": on_call})
    sids = [f"CA{n:031d}S" for n in range(6)]
    with AppServer(rt) as app:
        twilio = Twilio(app.base)
        for n, sid in enumerate(sids):
            rt.clock = lambda n=n: MONDAY_10 + timedelta(seconds=50 * n)
            post(twilio, "voice", payload("voice-inbound-cn", sid))
            if on_call:
                post(twilio, "dial", payload("dial-action-no-answer", sid))
            post(twilio, "status", payload("status-completed", sid, Timestamp=""))
            scheduler.plan(rt, rt.now())  # the planner runs between the calls ...
        twilio.close()
    scheduler.plan(rt, MONDAY_10 + timedelta(days=1, minutes=-1))  # ... and the day's first, full pass
    reminder = ("callback_reminder", "sms", ENGINEER) if on_call else ("callback_reminder", "email", SERVICE)
    assert sorted((kind, channel, to) for kind, channel, to, _ in planned(rt)) == [
        ("callback_notice", "sms", CALLER), reminder]
    rt.close()


@pytest.mark.parametrize(("broken", "left"), [
    ("sms", [("callback_notice", "sms", CALLER), ("callback_reminder", "sms", ENGINEER)]),  # the planner's notice
    ("callback", [("callback_notice", "sms", CALLER), ("callback_reminder", "email", SERVICE)]),  # its reminder
])
def test_follow_ups_that_fail_lose_nothing_else(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                                                caplog: pytest.LogCaptureFixture, broken: str,
                                                left: list[tuple[str, str, str]]) -> None:
    templates = tmp_path / "templates" / broken
    templates.mkdir(parents=True)
    (templates / "zh-Hans.txt").write_text("{{ no_such_name }}", encoding="utf-8")  # a slip in a customised template
    rt = open_runtime(tmp_path, backend, request, {"on_call": [ENGINEER]}, template_dir=tmp_path / "templates")
    sid = "CA" + "9" * 31 + "F"
    with AppServer(rt) as app:
        twilio = Twilio(app.base)
        post(twilio, "voice", payload("voice-inbound-cn", sid))
        post(twilio, "dial", payload("dial-action-no-answer", sid))
        post(twilio, "record", payload("record-action", sid))
        post(twilio, "status", payload("status-completed", sid))
        twilio.close()
    row = detail(rt, sid)  # the call ended, with its status, its ticket and its callback deadline
    assert (row["status"], row["missed"], row["ended_at"], row["callback_due"]) == (
        "no-answer", "no-answer", "2026-11-16T10:01:50+08:00", "2026-11-16T10:30:00+08:00")
    assert [c["error"] for c in row["callbacks"]] == [None] * 4
    failed = [r for r in caplog.records if r.getMessage() == f"call {sid}: its follow-ups could not be scheduled"]
    assert failed and all(r.exc_info and r.exc_info[0].__name__ == "UndefinedError" for r in failed)
    scheduler.plan(rt, MONDAY_10 + timedelta(minutes=3))  # the planner still sees to what was lost
    assert sorted((kind, channel, to) for kind, channel, to, _ in planned(rt)) == left
    rt.close()


def test_concurrent_callbacks_for_one_call_leave_one_consistent_row(rt: Runtime, twilio: Twilio) -> None:
    sid = "CA" + "c" * 32
    requests = [(kind, payload(name, sid)) for kind, name in ANSWERED] * 3
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda item: twilio.post(PATHS[item[0]], item[1]).status_code, requests))
    assert set(answers) == {200}
    row = detail(rt, sid)
    assert (row["status"], row["answered_by"], len(row["callbacks"])) == ("completed", ENGINEER, len(ANSWERED))
    with rt.sessions() as session:
        assert session.scalar(select(func.count(models.Ticket.id))) == 1


def test_forged_requests_change_nothing(rt: Runtime, twilio: Twilio) -> None:
    params = payload("voice-inbound-cn", "CA" + "d" * 32)
    forged = [
        twilio.post("/hotline/voice", params, signature=""),
        twilio.post("/hotline/voice", params, signature="AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        twilio.post("/hotline/voice", params, signed_for=f"{PUBLIC_URL}/hotline/status"),
        twilio.post("/hotline/voice", params, signed_for="http://127.0.0.1:8080/hotline/voice"),
    ]
    assert [a.status_code for a in forged] == [403] * 4
    with rt.sessions() as session:
        assert session.scalar(select(func.count(models.CallEvent.id))) == 0
        assert session.scalar(select(func.count(models.Call.id))) == 0


def test_steps_and_missing_call_sid(twilio: Twilio) -> None:
    assert twilio.post("/hotline/voice?step=nope", {"CallSid": "CA1"}).status_code == 404
    assert twilio.post("/hotline/status", {"CallStatus": "completed"}).status_code == 400


def test_permutations_of_the_caller_leg_over_http(rt: Runtime, twilio: Twilio) -> None:
    names = ["status-ringing", "status-in-progress", "status-completed"]
    for number, order in enumerate(itertools.permutations(names)):
        sid = f"CA{number:031d}P"
        for name in order:
            post(twilio, "status", payload(name, sid))
        row = detail(rt, sid)
        assert (row["call_status"], row["duration"], row["ended_at"]) == (
            "completed", 110, "2026-11-16T10:01:50+08:00")


@pytest.mark.parametrize("backend", ["sqlite"])  # breaks the data behind the service's back with sqlite3
def test_a_request_that_cannot_be_applied_is_kept_with_its_error(rt: Runtime, twilio: Twilio) -> None:
    sid = "CA" + "f" * 32
    post(twilio, "voice", payload("voice-inbound-cn", sid))
    with sqlite3.connect(rt.settings.database_url.removeprefix("sqlite:///")) as raw:  # foreign keys off here
        # point the call at a ticket that never existed (deleting its ticket would free the id for the
        # others' new tickets to take, and whether one did first would decide the test)
        raw.execute("UPDATE calls SET ticket_id = 999999")
    others = [f"CA{n:032d}" for n in range(6)]
    burst = [("/hotline/voice?step=recorded", payload("record-action", sid))]  # its voicemail needs a ticket
    burst += [("/hotline/voice", payload("voice-inbound-cn", other, From=f"+861380013810{n}"))
              for n, other in enumerate(others)]
    with ThreadPoolExecutor(max_workers=7) as pool:  # sent together, so they likely share a batch
        answers = list(pool.map(lambda item: twilio.post(*item), burst))
    assert [a.status_code for a in answers] == [200] * 7
    assert "<Record" in answers[0].text  # the caller can still leave a message
    assert all(detail(rt, other)["ticket"] for other in others)  # the others' work was not lost with it
    row = detail(rt, sid)
    assert [c["kind"] for c in row["callbacks"]] == ["voice", "record"]
    assert "IntegrityError" in (row["callbacks"][1]["error"] or "")
    assert post(twilio, "status", payload("status-ringing", sid))  # later requests are applied as usual


ZHANG_WEI = "+8613900001111"  # a mobile among the customer's phones
LI_NA = "li.na@plant.example.cn"


def plant_with_li_nas_ticket(rt: Runtime, response_due: datetime, first_response_at: datetime | None = None) -> None:
    """华东电厂 (24x7) has 张伟's mobile among its phones and li.na's open ticket SR-000003, opened by her mail."""
    with db.transaction(rt.sessions) as session:
        plant = customers.upsert(session, customers.parse_row(
            {"name": "华东电厂", "emails": LI_NA, "phones": ZHANG_WEI, "tier": "24x7"}, "Asia/Shanghai"), MONDAY_10)
        ticket = models.Ticket(subject="核心交换机告警", status="open", channel="email", language="zh-Hans", severity=3,
                               customer_id=plant.id, requester=LI_NA, requester_name="李娜", tier="24x7",
                               timezone="Asia/Shanghai", received_at=MONDAY_10 - timedelta(hours=1), paused_s=0,
                               response_due=response_due, first_response_at=first_response_at, created_at=MONDAY_10,
                               updated_at=MONDAY_10)
        session.add(ticket)
        session.flush()
        ticket.number = "SR-000003"


def call_jobs(rt: Runtime) -> list[models.Job]:
    """What the hotline and the planner scheduled for missed calls (not the ticket's own SLA jobs or visits)."""
    return [job for job in jobs(rt) if job.kind.startswith("callback_")]


def planned(rt: Runtime) -> list[tuple[str, str, str | None, str]]:
    return [(j.kind, j.channel, j.recipient, f"{j.due_at.astimezone(SHANGHAI):%H:%M:%S}") for j in call_jobs(rt)]


@pytest.mark.parametrize("sms", [True, False])
def test_a_call_on_a_colleagues_ticket_notifies_only_the_caller_once_the_call_is_over(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture,
        sms: bool) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.channels.hotline_writer")
    rt = open_runtime(tmp_path, backend, request, {"sms_enabled": sms})  # nobody on call: straight to voicemail
    plant_with_li_nas_ticket(rt, response_due=MONDAY_10 + timedelta(hours=2))
    sid, zhang = "CA" + "e" * 32, {"From": ZHANG_WEI, "Caller": ZHANG_WEI}
    with AppServer(rt) as app:
        twilio = Twilio(app.base)
        assert "<Record" in post(twilio, "voice", payload("voice-inbound-cn", sid, **zhang))
        row = detail(rt, sid)  # the call joined the customer's open ticket, as intended, and counts as missed
        assert (row["ticket"], row["missed"], row["callback_due"]) == (
            "SR-000003", "voicemail", "2026-11-16T10:15:00+08:00")
        scheduler.plan(rt, MONDAY_10)  # the planner runs while 张伟 is still in the IVR
        assert planned(rt) == [("callback_reminder", "email", SERVICE, "10:05:00")]  # the engineer, by 10:15
        rt.clock = lambda: MONDAY_10 + timedelta(seconds=90)
        post(twilio, "record", payload("record-action", sid, **zhang))  # the voicemail is over
        for _ in range(2):  # Twilio's final report, retried
            post(twilio, "status", payload("status-completed", sid, **zhang))
        scheduler.plan(rt, MONDAY_10 + timedelta(seconds=120))
        twilio.close()
    notice = [("callback_notice", "sms", ZHANG_WEI, "10:02:30")] if sms else []  # sms_delay_s after the voicemail
    assert planned(rt) == [("callback_reminder", "email", SERVICE, "10:05:00"), *notice]
    assert all(job.recipient != LI_NA for job in call_jobs(rt))  # she never called
    if sms:
        body = call_jobs(rt)[-1].body_text or ""
        assert "SR-000003" in body and "您的来电" in body and "来信" not in body
    ended = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"call {sid}")]
    assert ended == [f"call {sid} from {ZHANG_WEI}: no-answer, ticket SR-000003, "
                     "missed (voicemail), callback_due 2026-11-16T02:15:00+00:00"]
    rt.close()


@pytest.mark.parametrize(("response_due", "first_response_at", "callback_due", "reminder"), [
    # SR-000007: its response is due at 10:04, before the 30 minutes' callback limit: the callback is too
    (MONDAY_10 + timedelta(minutes=4), None, "2026-11-16T10:04:00+08:00", "10:00:00"),
    (MONDAY_10 + timedelta(minutes=4), MONDAY_10 - timedelta(minutes=5), "2026-11-16T10:30:00+08:00", "10:25:00"),
    (MONDAY_10 - timedelta(minutes=1), None, "2026-11-16T10:30:00+08:00", "10:25:00"),  # late already
])
def test_the_callback_is_due_no_later_than_the_response_the_ticket_still_owes(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest, response_due: datetime,
        first_response_at: datetime | None, callback_due: str, reminder: str) -> None:
    rt = open_runtime(tmp_path, backend, request, {"callback_notify": ["oncall@support.example"],
                                                   "callback_limits": {"24x7": "30m"}})
    plant_with_li_nas_ticket(rt, response_due, first_response_at)
    sid = "CA" + "7" * 31 + "e"
    with AppServer(rt) as app:
        twilio = Twilio(app.base)
        post(twilio, "voice", payload("voice-inbound-cn", sid, From=ZHANG_WEI, Caller=ZHANG_WEI))
        twilio.close()
    assert detail(rt, sid)["callback_due"] == callback_due
    assert planned(rt) == [("callback_reminder", "email", "oncall@support.example", reminder)]
    rt.close()
