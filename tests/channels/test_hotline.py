"""The hotline of a running `intake serve`: Twilio's webhook requests, signed as Twilio signs them, over
loopback HTTP; SMS through the real twilio client to a loopback Twilio API; the call log through the CLI.

Payloads are the samples of ../shared/corpus/twilio where there is one, and fixtures/twilio otherwise.
"""

from __future__ import annotations

import json
import os
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli.main import main
from tests.mailmaker import make_mail
from tests.serving import ServeProcess, wait_for
from tests.twilio_fake import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    PUBLIC_URL,
    FakeTwilioApi,
    Twilio,
    sample,
)

ENGINEER = "+8613900139000"
CONTRACT_FIELDS = {"call_sid", "from", "to", "customer", "status", "started_at", "duration", "ticket",
                   "recording_url", "callback_due"}


@pytest.fixture(scope="module")
def api() -> Iterator[FakeTwilioApi]:
    server = FakeTwilioApi().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, api: FakeTwilioApi) -> Iterator[ServeProcess]:
    folder = tmp_path_factory.mktemp("hotline")
    hotline = {"on_call": [ENGINEER], "after_hours_tiers": ["24x7", "8x5"],  # always put through
               "sms_delay_s": 0, "callback_remind_before_s": 86400, "max_body_bytes": 4096}
    with ServeProcess(folder, INTAKE_PUBLIC_URL=PUBLIC_URL, INTAKE_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                      INTAKE_TWILIO_AUTH_TOKEN=AUTH_TOKEN, INTAKE_TWILIO_NUMBER=OUR_NUMBER,
                      INTAKE_TWILIO_API_BASE=api.base, INTAKE_HOTLINE=json.dumps(hotline)) as proc:
        yield proc


@pytest.fixture
def twilio(served: ServeProcess) -> Iterator[Twilio]:
    client = Twilio(f"http://127.0.0.1:{served.http_port}")
    yield client
    client.close()


@pytest.fixture
def intake(served: ServeProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """`intake ...` as a user runs it next to the service (same settings and database), its JSON parsed."""
    for key in [k for k in os.environ if k.startswith("INTAKE_")]:
        monkeypatch.delenv(key)
    for key, value in served.env.items():
        if key.startswith("INTAKE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(served.folder)

    def run(*args: str) -> Any:
        code = main([*args, "--json"] if args[-1] != "--" else list(args[:-1]))
        out, err = capsys.readouterr()
        assert code == 0, err
        return json.loads(out) if out.strip().startswith(("[", "{")) else out

    return run


def twiml(answer: Any) -> ET.Element:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    return ET.fromstring(answer.content)


def own(name: str, sid: str, caller: str, **changes: str) -> dict[str, str]:
    params = sample(name)
    if "ParentCallSid" in params:
        params["ParentCallSid"], params["CallSid"] = sid, "CL" + sid[2:]
    else:
        params["CallSid"] = sid
    return {**params, "From": caller, "Caller": caller, **changes}


def events(served: ServeProcess, sid: str) -> int:
    with sqlite3.connect(served.folder / "intake.db") as connection:
        return connection.execute("SELECT count(*) FROM call_events WHERE call_sid = ?", (sid,)).fetchone()[0]


def ended_lines(served: ServeProcess, sid: str) -> list[str]:
    """The INFO lines `intake serve` logged for the end of call `sid` (the message, after the logger's name)."""
    marker = f"pipeline.channels.hotline_writer: call {sid} "
    return [line.partition("hotline_writer: ")[2] for line in served.log().splitlines() if marker in line]


def test_answered_call_is_logged_with_who_answered(served: ServeProcess, twilio: Twilio, intake: Any) -> None:
    sid, caller = "CA" + "1a" * 16, "+8613800138001"
    greeting = twiml(twilio.post("/hotline/voice", own("voice-inbound-cn", sid, caller)))
    gather = greeting.find("Gather")
    assert gather is not None and [s.get("language") for s in gather] == ["zh-CN", "en-US"]
    assert [n.text for n in greeting.iter("Number")] == [ENGINEER]
    for name in ("dial-leg-ringing", "dial-leg-answered", "dial-leg-completed", "status-completed"):
        assert twilio.post("/hotline/status", own(name, sid, caller)).status_code == 200
    hangup = twiml(twilio.post("/hotline/voice?step=dialed", own("dial-action-completed", sid, caller)))
    assert [verb.tag for verb in hangup] == ["Hangup"]
    shown = intake("calls", "show", sid)
    assert set(shown) >= CONTRACT_FIELDS
    assert (shown["status"], shown["answered_by"], shown["duration"], shown["callback_due"]) == (
        "completed", ENGINEER, 110, None)
    assert [c["kind"] for c in shown["callbacks"]] == ["voice", "dial-status", "dial-status", "dial-status",
                                                      "status", "dial"]
    ticket = intake("tickets", "show", shown["ticket"])
    assert (ticket["channel"], ticket["severity"], ticket["status"]) == ("phone", 2, "open")
    assert ticket["response_due"] is not None and ticket["resolve_due"] is not None  # the SLA of mail
    # the service's log has one line for the call, written when Twilio reported its end
    assert ended_lines(served, sid) == [f"call {sid} from {caller}: completed, ticket {shown['ticket']}, answered"]


def test_missed_call_gets_voicemail_callback_and_sms(served: ServeProcess, twilio: Twilio, api: FakeTwilioApi,
                                                     intake: Any) -> None:
    sid, caller = "CA" + "2b" * 16, "+8613800138002"
    twiml(twilio.post("/hotline/voice", own("voice-inbound-cn", sid, caller)))
    record = twiml(twilio.post("/hotline/voice?step=dialed", own("dial-action-no-answer", sid, caller))).find(
        "Record")
    assert record is not None and record.get("recordingStatusCallback") == f"{PUBLIC_URL}/hotline/recording"
    twiml(twilio.post("/hotline/voice?step=recorded", own("record-action", sid, caller)))
    recording = {**sample("recording-completed-footing"), "CallSid": sid}  # corpus samples, our call
    transcription = {**sample("transcription-voicemail-inbound-hellechat"), "CallSid": sid}
    status = {**sample("status-completed-speakez"), "CallSid": sid}
    for path, params in (("/hotline/recording", recording), ("/hotline/transcription", transcription),
                         ("/hotline/status", status)):
        assert twilio.post(path, params).status_code == 200
    notice = wait_for(lambda: [r for r in api.sent("Messages") if r.form["To"] == caller])
    shown = intake("calls", "show", sid)
    assert (shown["status"], shown["missed"], shown["transcription"]) == ("no-answer", "no-answer", "123123 test.")
    assert shown["callback_due"] is not None and shown["ticket"] in notice[0].form["Body"]
    assert notice[0].form["From"] == OUR_NUMBER and "工单号" in notice[0].form["Body"]
    reminder = wait_for(lambda: [r for r in api.sent("Messages") if r.form["To"] == ENGINEER and caller in r.form[
        "Body"]])
    assert "回电期限" in reminder[0].form["Body"]
    assert len([r for r in api.sent("Messages") if r.form["To"] == caller]) == 1  # the scheduler added no second
    listed = [row for row in intake("calls", "list") if row["call_sid"] == sid]
    assert set(listed[0]) >= CONTRACT_FIELDS and listed[0]["recording_url"] == own("record-action", sid, caller)[
        "RecordingUrl"]
    texts = [m["text"] for m in intake("tickets", "show", shown["ticket"])["messages"]]
    assert any(t.startswith("Voicemail (14 s): https://api.twilio.com/") for t in texts)
    assert "Voicemail transcript (Twilio): 123123 test." in texts
    (line,) = ended_lines(served, sid)
    assert line.startswith(f"call {sid} from {caller}: no-answer, ticket {shown['ticket']}, missed (no-answer), "
                           "callback_due 20")


def follow_ups_waiting(served: ServeProcess, ticket: str) -> int:
    """How many of the ticket's missed-call follow-ups are still to be sent."""
    with sqlite3.connect(served.folder / "intake.db") as connection:
        return connection.execute(
            "SELECT count(*) FROM jobs JOIN tickets ON tickets.id = jobs.ticket_id WHERE tickets.number = ? "
            "AND jobs.kind LIKE 'callback_%' AND jobs.status IN ('pending', 'running')", (ticket,)).fetchone()[0]


def test_a_caller_who_retries_six_times_gets_one_sms_and_one_reminder(
        served: ServeProcess, twilio: Twilio, api: FakeTwilioApi, intake: Any) -> None:
    caller, sids = "+8613800138008", [f"CA{n:031d}8" for n in range(6)]
    for sid in sids:  # within seconds of each other, each missed and over
        twiml(twilio.post("/hotline/voice", own("voice-inbound-cn", sid, caller)))
        twiml(twilio.post("/hotline/voice?step=dialed", own("dial-action-no-answer", sid, caller)))
        assert twilio.post("/hotline/status", own("status-completed", sid, caller, Timestamp="")).status_code == 200
    shown = [intake("calls", "show", sid) for sid in sids]
    ticket = shown[0]["ticket"]
    assert all(row["ticket"] == ticket and row["callback_due"] for row in shown)  # each keeps its deadline
    wait_for(lambda: [r for r in api.sent("Messages") if r.form["To"] == caller])
    wait_for(lambda: follow_ups_waiting(served, ticket) == 0)
    assert len([r for r in api.sent("Messages") if r.form["To"] == caller]) == 1
    assert len([r for r in api.sent("Messages") if r.form["To"] == ENGINEER and caller in r.form["Body"]]) == 1


def test_duplicate_and_out_of_order_callbacks_change_nothing_twice(served: ServeProcess, twilio: Twilio,
                                                                   intake: Any) -> None:
    sid, caller = "CA" + "3c" * 16, "+8613800138003"
    order = [("/hotline/status", "status-completed"), ("/hotline/status", "status-ringing"),
             ("/hotline/voice", "voice-inbound-cn"), ("/hotline/status", "status-in-progress")]
    for path, name in order + order:
        assert twilio.post(path, own(name, sid, caller)).status_code == 200
    shown = intake("calls", "show", sid)
    assert (shown["call_status"], shown["duration"], len(shown["callbacks"])) == ("completed", 110, 4)
    assert events(served, sid) == 4


def test_unknown_caller_from_the_corpus_gets_a_new_ticket(served: ServeProcess, twilio: Twilio, intake: Any) -> None:
    voice = sample("voice-inbound-uk-twilio_erlang")  # recorded as sent, placeholder sids and all
    greeting = twiml(twilio.post("/hotline/voice", voice))
    assert [s.get("language") for s in greeting.find("Gather")] == ["en-US", "zh-CN"]  # a UK caller: English first
    shown = intake("calls", "show", voice["CallSid"])
    assert (shown["from"], shown["customer"], shown["caller_country"]) == ("+447776251669", None, "GB")
    ticket = intake("tickets", "show", shown["ticket"])
    assert (ticket["requester"], ticket["language"], ticket["subject"]) == (
        "+447776251669", "en", "Hotline call from +447776251669")


def test_known_caller_with_an_open_ticket_is_attached(twilio: Twilio, tmp_path: Path, intake: Any) -> None:
    table = tmp_path / "customers.csv"
    table.write_text("name,emails,domains,phones,tier,manager_email,timezone\n"
                     "Mill Co,ann@mill.example.com,,021-5555 0100;138 0013 8004,24x7,,Asia/Shanghai\n",
                     encoding="utf-8")
    intake("customers", "import", str(table), "--")
    mail = tmp_path / "outage.eml"
    mail.write_bytes(make_mail("核心交换机宕机", "全厂业务中断", "ann@mill.example.com"))
    (ingested,) = intake("ingest", str(mail))
    for sid, caller in (("CA" + "4d" * 16, "+862155550100"), ("CA" + "5e" * 16, "+8613800138004")):
        twiml(twilio.post("/hotline/voice", own("voice-inbound-cn", sid, caller)))
        shown = intake("calls", "show", sid)
        assert (shown["customer"], shown["ticket"], shown["opened_ticket"]) == ("Mill Co", ingested["ticket"], False)
    kinds = [m["kind"] for m in intake("tickets", "show", ingested["ticket"])["messages"]]
    assert kinds.count("call") == 2


@pytest.mark.parametrize("forgery", ["unsigned", "wrong token", "another url", "plain http", "another path"])
def test_forged_requests_get_403_and_change_nothing(served: ServeProcess, twilio: Twilio, forgery: str,
                                                    intake: Any) -> None:
    sid = "CA" + "6f" * 16
    params = own("voice-inbound-cn", sid, "+8613800138006")
    answer = {
        "unsigned": lambda: twilio.post("/hotline/voice", params, signature=""),
        "wrong token": lambda: Twilio(twilio.http.base_url.__str__().rstrip("/"), token="not-ours").post(
            "/hotline/voice", params),
        "another url": lambda: twilio.post("/hotline/voice", params,
                                           signed_for="https://elsewhere.example.com/hotline/voice"),
        "plain http": lambda: twilio.post("/hotline/voice", params,
                                          signed_for=PUBLIC_URL.replace("https", "http") + "/hotline/voice"),
        "another path": lambda: twilio.post("/hotline/voice", params, signed_for=f"{PUBLIC_URL}/hotline/status"),
    }[forgery]()
    assert answer.status_code == 403
    assert events(served, sid) == 0
    assert all(row["call_sid"] != sid for row in intake("calls", "list"))


def test_oversized_body_is_refused(served: ServeProcess, twilio: Twilio) -> None:
    params = {"CallSid": "CA" + "7a" * 16, "TranscriptionText": "x" * 5000}
    assert twilio.post("/hotline/transcription", params).status_code == 413
    assert events(served, params["CallSid"]) == 0
