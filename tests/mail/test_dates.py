"""arrival_at: when a message arrived, from its own headers (the topmost Received:, else Date:, else now)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.mail import dates

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
OUR_HOP = ("Received: from mx.mill.example.com (mx.mill.example.com [192.0.2.7])\r\n"
           "\tby mx.support.example (Postfix) with ESMTPS id 4Xk2;\r\n\tMon, 21 Sep 2026 09:12:05 +0800\r\n")
THEIR_HOP = "Received: from [10.0.0.5] by mx.mill.example.com; Mon, 21 Sep 2026 09:11:58 +0800\r\n"
SENT = "Date: Mon, 21 Sep 2026 09:10:00 +0800\r\n"


def raw(*headers: str) -> bytes:
    return ("".join(headers) + "From: ann@mill.example.com\r\nSubject: hello\r\n\r\nbody\r\n").encode()


@pytest.mark.parametrize(
    ("headers", "arrived"),
    [
        # the topmost Received: is our own MTA's, the last hop
        ((OUR_HOP, THEIR_HOP, SENT), datetime(2026, 9, 21, 1, 12, 5, tzinfo=UTC)),
        # no Received: the sender's Date:
        ((SENT,), datetime(2026, 9, 21, 1, 10, tzinfo=UTC)),
        # a Received: without a readable date is passed over
        (("Received: from a by b with SMTP id 7\r\n", THEIR_HOP, SENT), datetime(2026, 9, 21, 1, 11, 58, tzinfo=UTC)),
        (("Received: from a by b; yesterday-ish\r\n", SENT), datetime(2026, 9, 21, 1, 10, tzinfo=UTC)),
        # "-0000": UTC, no claim about the sender's zone (RFC 5322 3.3)
        (("Date: Mon, 21 Sep 2026 09:10:00 -0000\r\n",), datetime(2026, 9, 21, 9, 10, tzinfo=UTC)),
        # nothing readable: now
        ((), NOW),
        (("Date: the day before yesterday\r\n",), NOW),
        # never in the future: a fast clock somewhere is clamped to now
        (("Date: Wed, 23 Dec 2026 09:10:00 +0800\r\n",), NOW),
        (("Received: by mx.support.example; Wed, 23 Dec 2026 09:10:00 +0800\r\n", SENT), NOW),
    ],
)
def test_arrival_at(headers: tuple[str, ...], arrived: datetime) -> None:
    assert dates.arrival_at_of(raw(*headers), NOW) == arrived


def test_parsed_headers_give_the_same_answer() -> None:
    """ParsedMail.headers, (lower-case name, value) pairs, are read the same way."""
    fields = [("received", "from x by mx.support.example; Mon, 21 Sep 2026 09:12:05 +0800"),
              ("date", "Mon, 21 Sep 2026 09:10:00 +0800")]
    assert dates.arrival_at(fields, NOW) == datetime(2026, 9, 21, 1, 12, 5, tzinfo=UTC)


def test_only_the_top_level_header_counts() -> None:
    """A Received: or Date: inside the body (a forwarded message) is not the message's own."""
    forwarded = (SENT + "From: ann@mill.example.com\r\nContent-Type: message/rfc822\r\n\r\n"
                 "Received: by old.example; Mon, 02 Feb 2026 09:00:00 +0800\r\n"
                 "Date: Mon, 02 Feb 2026 08:00:00 +0800\r\n\r\nold\r\n").encode()
    assert dates.arrival_at_of(forwarded, NOW) == datetime(2026, 9, 21, 1, 10, tzinfo=UTC)


def test_blank_lines_before_the_header_and_lf_line_ends() -> None:
    text = "\n\nReceived: by mx.support.example; Mon, 21 Sep 2026 09:12:05 +0800\nSubject: x\n\nbody\n"
    assert dates.arrival_at_of(text.encode(), NOW) == datetime(2026, 9, 21, 1, 12, 5, tzinfo=UTC)
