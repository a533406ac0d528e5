"""`intake serve`: one process, one event loop, every channel and worker of the service.

The SMTP receiver and the HTTP server answer on the loop; blocking database work runs in threads.
Stored-but-unprocessed mail (ours from SMTP, or left by a crash) is processed by one thread fed by a
queue and a periodic sweep. SIGINT/SIGTERM stop accepting, finish the item in flight, then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta

import uvicorn

from pipeline.channels import hotline, imap, smtp
from pipeline.jobs import scheduler, worker
from pipeline.runtime import Runtime
from pipeline.store import db, queries
from pipeline.tickets import ingest
from pipeline.web import app as web

log = logging.getLogger(__name__)
SWEEP_AFTER = timedelta(seconds=30)


class Processor:
    """Processes stored raw inputs one at a time in a thread of its own."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.queue: asyncio.Queue[int | None] = asyncio.Queue()

    def submit(self, raw_id: int) -> None:
        self.queue.put_nowait(raw_id)

    async def run(self) -> None:
        while (raw_id := await self.queue.get()) is not None:
            try:
                result = await asyncio.to_thread(ingest.process_stored, self.rt, raw_id)
                log.info("raw %s: %s %s %s", raw_id, result.status, result.ticket or "", result.reason or "")
            except Exception:  # the per-item guard; the sweep retries what is still 'received'
                log.exception("processing raw input %s failed", raw_id)

    def sweep(self) -> None:
        """Queue what was stored but never processed (a crash, or another process that died)."""
        with db.transaction(self.rt.sessions) as session:
            ids = queries.unprocessed_raw_ids(session, self.rt.now() - SWEEP_AFTER)
        for raw_id in ids:
            self.submit(raw_id)


async def every(seconds: float, step: Callable[[], Awaitable[object]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await step()
        except Exception:
            log.exception("periodic task failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


def tick(rt: Runtime) -> None:
    """One scheduler step: plan what is owed now, then run what is due."""
    now = rt.now()
    scheduler.plan(rt, now)
    worker.run_due(rt, now)


async def serve(rt: Runtime, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    processor = Processor(rt)
    smtp_server = await smtp.start(rt, processor.submit)
    host, port = rt.settings.http_bind
    app = web.build_app(rt, hotline.routes(rt))
    http = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    http.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    tasks = [
        asyncio.create_task(processor.run(), name="processor"),
        asyncio.create_task(http.serve(), name="http"),
        asyncio.create_task(every(60, lambda: asyncio.to_thread(processor.sweep), stop), name="sweep"),
        asyncio.create_task(every(rt.settings.scheduler_interval_s, lambda: asyncio.to_thread(tick, rt), stop),
                            name="jobs"),
        asyncio.create_task(imap.run_pollers(rt, stop), name="imap"),
    ]
    log.info("intake serving: SMTP %s, HTTP %s, database %s", rt.settings.smtp_listen, rt.settings.http_listen,
             rt.engine.dialect.name)
    print(f"intake: SMTP on {rt.settings.smtp_listen}, HTTP on {rt.settings.http_listen}", flush=True)
    await stop.wait()
    log.info("stopping")
    smtp_server.close()
    await smtp_server.wait_closed()
    http.should_exit = True
    processor.queue.put_nowait(None)
    await asyncio.gather(*tasks, return_exceptions=True)


def run(rt: Runtime) -> None:
    threading.current_thread().name = "intake-serve"
    asyncio.run(serve(rt))
