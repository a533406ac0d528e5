"""The .ics invitation: RFC 5545 lines (CRLF, escaped text, folded at 75 octets, UTC times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.jobs import ics
from tests.sla.helpers import at


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_invitation_lines() -> None:
    text = ics.invitation(
        uid="revisit-7-2026-03-06@support.example", starts_at=at("2026-03-06 10:00"), length=timedelta(hours=2),
        summary="[SR-000007] 上门回访：2026-03-06 10:00", description="第一行\n第二行; 含逗号,和反斜杠\\",
        location="华东电厂", organizer="service@support.example", attendee="wang@plant.example.cn",
        created_at=datetime(2026, 3, 3, 8, 0, tzinfo=UTC),
    )
    assert text.endswith("END:VCALENDAR\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    lines = unfold(text)
    assert "METHOD:REQUEST" in lines
    assert "DTSTART:20260306T020000Z" in lines and "DTEND:20260306T040000Z" in lines
    assert "DTSTAMP:20260303T080000Z" in lines
    assert "DESCRIPTION:第一行\\n第二行\\; 含逗号\\,和反斜杠\\\\" in lines
    assert "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:wang@plant.example.cn" in lines


def test_folding_never_splits_a_character() -> None:
    folded = ics.fold("SUMMARY:" + "回访" * 40)
    for line in folded.split("\r\n"):
        assert len(line.encode()) <= 75
        line.encode().decode()  # each piece is whole UTF-8
    assert folded.replace("\r\n ", "") == "SUMMARY:" + "回访" * 40
