"""`intake outbox list`: times in the configured zone, as tickets and reminders show theirs."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.conftest import Run, as_json
from tests.mailmaker import make_mail


@pytest.mark.parametrize(("zone", "offset"), [("Asia/Shanghai", "+08:00"), ("Asia/Tokyo", "+09:00")])
def test_due_and_sent_times_are_in_the_configured_zone(cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       zone: str, offset: str) -> None:
    monkeypatch.setenv("INTAKE_TIMEZONE", zone)
    (tmp_path / "question.eml").write_bytes(make_mail("SNMP traps", "How do I configure SNMP traps?"))
    cli("ingest", str(tmp_path / "question.eml"))
    pending, = as_json(cli("outbox", "list", "--json")[1])
    assert pending["due_at"].endswith(offset) and pending["sent_at"] is None
    cli("outbox", "send")
    sent, = as_json(cli("outbox", "list", "--json")[1])
    assert sent["due_at"] == pending["due_at"] and sent["sent_at"].endswith(offset)
    assert datetime.fromisoformat(sent["sent_at"]) - datetime.fromisoformat(sent["due_at"]) < timedelta(minutes=1)
    table = cli("outbox", "list")[1]
    assert pending["due_at"][:16] in table and offset in table
