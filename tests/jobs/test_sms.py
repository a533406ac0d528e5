"""SMS and outbound calls leave through the real `twilio` client, aimed at a loopback Twilio API."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from pipeline.jobs import twilio_api, worker
from pipeline.runtime import Runtime
from pipeline.store import db, models
from tests.conftest import make_settings
from tests.serving import free_port
from tests.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, FakeTwilioApi, basic_auth, fake_api

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
CALLER, ENGINEER = "+8613800138000", "+8613900139000"


@pytest.fixture
def api() -> Iterator[FakeTwilioApi]:
    yield from fake_api()


def open_runtime(tmp_path: Path, base: str | None, **overrides: Any) -> Runtime:
    values: dict[str, Any] = dict(twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                                  twilio_number=OUR_NUMBER, twilio_api_base=base)
    values.update(overrides)
    return Runtime.open(make_settings(tmp_path, **values))


def add_job(rt: Runtime, channel: str, recipient: str, text: str, **values: Any) -> int:
    with db.transaction(rt.sessions) as session:
        return session.scalar(insert(models.Job).values(
            kind="test_notice", channel=channel, recipient=recipient, body_text=text, status="pending", due_at=NOW,
            attempts=0, created_at=NOW, **values).returning(models.Job.id))


def job(rt: Runtime, job_id: int) -> models.Job:
    with rt.sessions() as session:
        found = session.scalar(select(models.Job).where(models.Job.id == job_id))
        assert found is not None
        return found


def test_sms_goes_to_the_messages_resource_with_our_number_and_credentials(tmp_path: Path,
                                                                           api: FakeTwilioApi) -> None:
    rt = open_runtime(tmp_path, api.base)
    text = "【技术支持】您好，我们未能接听您的来电。工单号：SR-000001。"
    job_id = add_job(rt, "sms", CALLER, text)
    (outcome,) = worker.run_due(rt, NOW)
    assert outcome.status == "sent" and outcome.detail.startswith("SMS SM")
    (sent,) = api.sent("Messages")
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent.form == {"To": CALLER, "From": OUR_NUMBER, "Body": text}
    assert basic_auth(sent.auth) == (ACCOUNT_SID, AUTH_TOKEN)
    assert job(rt, job_id).status == "sent"
    rt.close()


@pytest.mark.parametrize(("status", "code", "job_status", "outcome"), [
    (400, 21211, "failed", "failed"),  # invalid 'To': retrying cannot help
    (429, 20429, "pending", "retry"),
    (503, 20503, "pending", "retry"),
])
def test_twilio_errors_fail_or_retry(tmp_path: Path, api: FakeTwilioApi, status: int, code: int, job_status: str,
                                     outcome: str) -> None:
    rt = open_runtime(tmp_path, api.base)
    api.failures.append((status, code))
    job_id = add_job(rt, "sms", CALLER, "hello")
    (result,) = worker.run_due(rt, NOW)
    assert result.status == outcome and str(code) in (job(rt, job_id).last_error or "")
    assert job(rt, job_id).status == job_status
    rt.close()


def test_unreachable_api_is_retried(tmp_path: Path) -> None:
    rt = open_runtime(tmp_path, f"http://127.0.0.1:{free_port()}")
    job_id = add_job(rt, "sms", CALLER, "hello")
    (result,) = worker.run_due(rt, NOW)
    assert result.status == "retry" and job(rt, job_id).status == "pending"
    assert job(rt, job_id).due_at > NOW
    rt.close()


def test_without_twilio_settings_the_job_fails_and_says_what_to_set(tmp_path: Path, api: FakeTwilioApi) -> None:
    rt = open_runtime(tmp_path, api.base, twilio_number=None)
    job_id = add_job(rt, "sms", CALLER, "hello")
    worker.run_due(rt, NOW)
    assert job(rt, job_id).status == "failed" and "INTAKE_TWILIO_NUMBER" in (job(rt, job_id).last_error or "")
    assert api.requests == []
    rt.close()


def test_outbound_call_reads_the_reminder_then_connects_the_caller(tmp_path: Path, api: FakeTwilioApi) -> None:
    rt = open_runtime(tmp_path, api.base)
    add_job(rt, "call", ENGINEER, "未接来电，请回电：+8613800138000", language="zh-Hans", payload={"caller": CALLER})
    (result,) = worker.run_due(rt, NOW)
    assert result.status == "sent" and result.detail.startswith("call CA")
    (placed,) = api.sent("Calls")
    assert (placed.form["To"], placed.form["From"]) == (ENGINEER, OUR_NUMBER)
    response = ET.fromstring(placed.form["Twiml"].encode("utf-8"))
    say, dial = list(response)
    assert (say.get("language"), say.text) == ("zh-CN", "未接来电，请回电：+8613800138000")
    assert (dial.text, dial.get("callerId")) == (CALLER, OUR_NUMBER)
    rt.close()


@pytest.mark.parametrize(("url", "base", "expected"), [
    ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json", "http://127.0.0.1:9000",
     "http://127.0.0.1:9000/2010-04-01/Accounts/AC1/Messages.json"),
    ("https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?x=1", "https://proxy.example.cn/twilio/",
     "https://proxy.example.cn/twilio/2010-04-01/Accounts/AC1/Calls.json?x=1"),
    ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json", None,
     "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"),
    ("https://example.com/elsewhere", "http://127.0.0.1:9000", "https://example.com/elsewhere"),
])
def test_rebase_moves_only_twilio_urls(url: str, base: str | None, expected: str) -> None:
    assert twilio_api.rebase(url, base) == expected
