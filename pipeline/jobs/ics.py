"""iCalendar (RFC 5545) invitations for on-site visits, attached to the customer's mail as a .ics file.

One VEVENT with METHOD:REQUEST, times in UTC, text escaped and lines folded at 75 octets (never inside a
UTF-8 sequence), CRLF line ends. The UID is stable per visit, so a re-sent invitation updates the
customer's calendar entry instead of adding a second one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PRODID = "-//intake//follow-up visits//EN"
LINE_OCTETS = 75


def escape(text: str) -> str:
    """TEXT values: backslash, semicolon, comma and newlines escaped (RFC 5545 3.3.11)."""
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """Split a content line into chunks of at most 75 octets, continuation lines starting with a space."""
    chunks, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        limit = LINE_OCTETS if not chunks else LINE_OCTETS - 1  # continuation lines lose one to the space
        if size + width > limit:
            chunks.append(current)
            current, size = "", 0
        current += char
        size += width
    chunks.append(current)
    return "\r\n ".join(chunks)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def invitation(
    *, uid: str, starts_at: datetime, length: timedelta, summary: str, description: str, location: str,
    organizer: str, attendee: str | None, created_at: datetime, sequence: int = 0,
) -> str:
    """The text of a .ics file inviting `attendee` to a visit."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{stamp(created_at)}",
        f"DTSTART:{stamp(starts_at)}",
        f"DTEND:{stamp(starts_at + length)}",
        f"SUMMARY:{escape(summary)}",
        f"DESCRIPTION:{escape(description)}",
        f"LOCATION:{escape(location)}",
        f"ORGANIZER:mailto:{organizer}",
    ]
    if attendee:
        lines.append(f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{attendee}")
    lines += ["STATUS:CONFIRMED", "TRANSP:OPAQUE", "END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
