"""The IMAP poller (issue 5): watches every [[imap]] mailbox of the config. Not built yet."""

from __future__ import annotations

import asyncio

from pipeline.runtime import Runtime


async def run_pollers(rt: Runtime, stop: asyncio.Event) -> None:
    """Watch every configured mailbox until `stop` is set."""
    await stop.wait()
