"""Shared by the IMAP tests: a poller running as `intake serve` runs it, and what it left in the store."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from pipeline.channels import imap
from pipeline.channels.imap_poller import Poller
from pipeline.runtime import Runtime
from pipeline.settings import ImapMailbox
from pipeline.store import models
from tests.conftest import make_settings


@contextlib.contextmanager
def runtime_for(tmp_path: Path, *boxes: ImapMailbox) -> Iterator[Runtime]:
    """A Runtime whose settings watch these mailboxes."""
    rt = Runtime.open(make_settings(tmp_path, imap=list(boxes)))
    try:
        yield rt
    finally:
        rt.close()


@contextlib.contextmanager
def watching(rt: Runtime, box: ImapMailbox) -> Iterator[Poller]:
    """A poller running in its thread (named `poller-<mailbox>`), as `intake serve` runs it."""
    poller = Poller(rt, box)
    thread = threading.Thread(target=poller.run, daemon=True, name=f"poller-{box.name}")
    thread.start()
    try:
        yield poller
    finally:
        poller.stop.set()
        thread.join(15)
        assert not thread.is_alive()


def poller_running(box: ImapMailbox) -> bool:
    return any(thread.name == f"poller-{box.name}" and thread.is_alive() for thread in threading.enumerate())


def subjects(rt: Runtime) -> list[str]:
    with rt.sessions() as session:
        return list(session.scalars(select(models.Ticket.subject).order_by(models.Ticket.id)))


def raw_count(rt: Runtime) -> int:
    with rt.sessions() as session:
        return session.scalar(select(func.count()).select_from(models.RawInput)) or 0


def status(rt: Runtime, name: str) -> dict[str, Any]:
    (row,) = imap.status(rt, [name])
    return row
