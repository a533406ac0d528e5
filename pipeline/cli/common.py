"""What the commands share: reading settings, opening the runtime, parsing times."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pipeline.errors import UsageError
from pipeline.runtime import Runtime
from pipeline.settings import Settings, load_settings


def settings() -> Settings:
    return load_settings()


@contextlib.contextmanager
def runtime(migrate: bool = True) -> Iterator[Runtime]:
    rt = Runtime.open(settings(), migrate=migrate)
    try:
        yield rt
    finally:
        rt.close()


def parse_time(value: str | None, zone: ZoneInfo | None = None) -> datetime | None:
    """ISO 8601; a time without an offset is read in the service time zone."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"not an ISO 8601 time: {value!r} (e.g. 2026-02-13T17:30:00+08:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or UTC)
    return moment


def add_subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return parser.add_subparsers(dest="verb", metavar="VERB", required=True)
