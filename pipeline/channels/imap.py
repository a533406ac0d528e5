"""The IMAP channel: `intake serve` watches every [[imap]] mailbox of the config, each in a thread of its own
(imapclient blocks; the event loop must not), and `intake imap poll-once` takes what is new and returns.

What each poller does is in imap_poller.py; the conversation with the server in imap_session.py; the
cursor and status in imap_state.py; the one-process-per-mailbox lease in lease.py.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from pipeline.channels import imap_state
from pipeline.channels.imap_poller import Poller
from pipeline.errors import NotFound
from pipeline.runtime import Runtime
from pipeline.settings import ImapMailbox

log = logging.getLogger(__name__)
JOIN_TIMEOUT_S = 10.0


async def run_pollers(rt: Runtime, stop: asyncio.Event, on_recorded: Callable[[], None] | None = None) -> None:
    """Watch every configured mailbox until `stop` is set, then let each lease go. `on_recorded` is
    called (from a poller's thread) after new mail was recorded."""
    halt = threading.Event()
    boxes: dict[str, ImapMailbox] = {}
    for box in rt.settings.imap:
        if box.name in boxes:  # both would wait for the same lease: one of them would never run
            log.error("imap: two [[imap]] tables are named %r; only the first is watched", box.name)
            continue
        boxes[box.name] = box
    threads = [threading.Thread(target=Poller(rt, box, halt, on_recorded=on_recorded).run,
                                name=f"imap-{box.name}", daemon=True) for box in boxes.values()]
    for thread in threads:
        thread.start()
    if threads:
        log.info("imap: watching %s", ", ".join(boxes))
    await stop.wait()
    halt.set()
    await asyncio.to_thread(_join, threads)


def _join(threads: list[threading.Thread]) -> None:
    # IDLE looks at its stop flag every second; a read blocked on a dead server ends at its timeout,
    # and the threads are daemons, so a stuck one cannot keep the process alive
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)


def mailboxes(rt: Runtime, name: str | None = None) -> list[ImapMailbox]:
    boxes = [box for box in rt.settings.imap if name is None or box.name == name]
    if name is not None and not boxes:
        known = ", ".join(box.name for box in rt.settings.imap) or "none configured"
        raise NotFound(f"no [[imap]] mailbox named {name!r} ({known})")
    return boxes


def poll_once(rt: Runtime, name: str | None = None) -> list[dict[str, Any]]:
    """Take what is new in each mailbox (or the named one) once; a status row per mailbox, with `fetched`
    and this run's `error`."""
    outcomes = {box.name: Poller(rt, box).once() for box in mailboxes(rt, name)}
    rows = status(rt, list(outcomes))
    for row in rows:
        fetched, error = outcomes[row["name"]]
        row.update(fetched=fetched, error=error)
    return rows


def status(rt: Runtime, names: list[str] | None = None) -> list[dict[str, Any]]:
    configured = [box.name for box in rt.settings.imap]
    with rt.sessions() as session:
        rows = imap_state.rows(session, configured if names is None else names, rt.now())
    return [row for row in rows if names is None or row["name"] in names]
