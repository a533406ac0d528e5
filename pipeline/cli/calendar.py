"""`intake calendar is-workday DATE` / `next-workday DATE`: China's working days as the SLA clocks see them.

Each answer names its source: official (the State Council's published schedule, chinese_calendar),
estimated (a year not yet published: holidays.China's guess, no make-up days) or override (extra_holidays /
extra_workdays in the config's [policy.calendar]).
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta

from pipeline.cli import common, output
from pipeline.errors import UsageError
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.sla import workdays

# when several days were looked at, the least certain of their sources is the answer's
CERTAINTY = ("estimated", "override", "official")


def register(nouns: argparse._SubParsersAction) -> None:
    parser = nouns.add_parser("calendar", help="China's working days (调休 make-up days included)")
    verbs = common.add_subcommands(parser)
    for name, helptext, func in (
        ("is-workday", "is DATE a working day? (and where the answer comes from)", is_workday),
        ("next-workday", "the first working day after DATE", next_workday),
    ):
        verb = output.add_json_option(verbs.add_parser(name, help=helptext))
        verb.add_argument("date", metavar="DATE", help="YYYY-MM-DD, or 'today'")
        verb.set_defaults(func=func)


def calendar_of(settings: Settings) -> workdays.WorkCalendar:
    """The calendar alone: no database needed."""
    return workdays.WorkCalendar.from_policy(load_policy(settings.policy, settings.policy_file))


def parse_date(value: str, settings: Settings) -> date:
    if value == "today":
        return datetime.now(settings.zone).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"not a date: {value!r} (e.g. 2026-02-14)") from None


def least_certain(calendar: workdays.WorkCalendar, first: date, last: date) -> str:
    sources = {calendar.source(first + timedelta(days=n)) for n in range((last - first).days + 1)}
    return next(source for source in CERTAINTY if source in sources)


def is_workday(args: argparse.Namespace) -> int:
    settings = common.settings()
    calendar, day = calendar_of(settings), parse_date(args.date, settings)
    row = {"date": day.isoformat(), "workday": calendar.is_workday(day), "source": calendar.source(day),
           "weekday": day.strftime("%A")}
    _emit(row, args.json, f"{row['date']} ({row['weekday']}): {'working day' if row['workday'] else 'day off'}"
                          f" [{row['source']}]")
    return 0


def next_workday(args: argparse.Namespace) -> int:
    settings = common.settings()
    calendar, day = calendar_of(settings), parse_date(args.date, settings)
    found = calendar.next_workday(day)
    row = {"date": day.isoformat(), "next_workday": found.isoformat(), "weekday": found.strftime("%A"),
           "source": least_certain(calendar, day + timedelta(days=1), found)}
    _emit(row, args.json, f"{row['next_workday']} ({row['weekday']}) [{row['source']}]")
    return 0


def _emit(row: dict[str, object], as_json: bool, line: str) -> None:
    if as_json:
        print(output.dumps(row))
    else:
        print(line)
