"""`intake serve`: one process, one event loop, every channel and worker of the service.

The SMTP receiver and the HTTP server answer on the loop; blocking database work runs in threads.
Stored-but-unprocessed mail (ours from SMTP, or left by a crash) is processed by one thread fed by a
queue and a periodic sweep. SIGINT/SIGTERM stop accepting, finish the item in flight, then exit.

Both listen addresses are bound first (`listen`), before the database is opened or anything starts: a
taken port stops start-up with one line naming its setting (CannotListen, exit 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import uvicorn

from pipeline.channels import hotline, imap, smtp
from pipeline.errors import CannotListen
from pipeline.jobs import scheduler, worker
from pipeline.runtime import Runtime
from pipeline.settings import Settings
from pipeline.store import db, queries
from pipeline.tickets import ingest
from pipeline.web import app as web

log = logging.getLogger(__name__)
SWEEP_AFTER = timedelta(seconds=30)
PLAN_PAUSE = 2.0  # a long planning pass rests twice as long as it works between batches (webhooks go first)
BACKLOG = 2048  # uvicorn's default; connections wait here while the loop is busy


@dataclass
class Listeners:
    """The bound, listening sockets of INTAKE_SMTP_LISTEN and INTAKE_HTTP_LISTEN; closed on exit."""

    smtp: socket.socket
    http: socket.socket

    def __enter__(self) -> Listeners:
        return self

    def __exit__(self, *exc: object) -> None:
        self.smtp.close()
        self.http.close()


def listen(settings: Settings) -> Listeners:
    """Bind both addresses, or raise CannotListen naming the setting (and bind neither)."""
    smtp_socket = bind("INTAKE_SMTP_LISTEN", settings.smtp_listen, settings.smtp_bind)
    try:
        http_socket = bind("INTAKE_HTTP_LISTEN", settings.http_listen, settings.http_bind)
    except CannotListen:
        smtp_socket.close()
        raise
    return Listeners(smtp_socket, http_socket)


def bind(setting: str, address: str, host_port: tuple[str, int]) -> socket.socket:
    """A listening TCP socket (SO_REUSEADDR, as asyncio and uvicorn bind), or CannotListen naming `setting`."""
    host, port = host_port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise CannotListen(f"cannot listen on {address} ({setting}): {bind_failure(exc)}") from exc
    return sock


def bind_failure(exc: OSError) -> str:
    """'address already in use', 'permission denied': the reason without errno numbers."""
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    reason = os.strerror(exc.errno) if exc.errno in errno.errorcode else str(exc)
    return reason[:1].lower() + reason[1:]



class Wake:
    """Wakes a periodic task early, from any thread: acks recorded now should not wait for the tick."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def __call__(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)


class Processor:
    """Processes stored raw inputs in a thread, in batches of whatever has queued up meanwhile."""

    BATCH = 100

    def __init__(self, rt: Runtime, on_recorded: Callable[[], None]) -> None:
        self.rt = rt
        self.on_recorded = on_recorded
        self.queue: asyncio.Queue[int | None] = asyncio.Queue()
        self.stopping = False

    def submit(self, raw_id: int) -> None:
        self.queue.put_nowait(raw_id)

    def _take_batch(self, first: int) -> list[int]:
        batch = [first]
        while len(batch) < self.BATCH and not self.queue.empty():
            item = self.queue.get_nowait()
            if item is None:
                self.stopping = True
                break
            batch.append(item)
        return batch

    async def run(self) -> None:
        while not self.stopping and (raw_id := await self.queue.get()) is not None:
            batch = self._take_batch(raw_id)
            try:
                results = await asyncio.to_thread(ingest.process_stored_many, self.rt, batch)
            except Exception:  # the per-batch guard; the sweep retries what is still 'received'
                log.exception("processing raw inputs %s failed", batch)
                continue
            for result in results:
                log.info("raw %s: %s", result.raw_id, result.summary())
            self.on_recorded()

    def stop(self) -> None:
        """Finish the batch in flight only: what is still queued is stored, and the next start's sweep
        processes it."""
        self.stopping = True
        self.queue.put_nowait(None)

    def sweep(self) -> None:
        """Queue what was stored but never processed (a crash, or another process that died)."""
        with db.transaction(self.rt.sessions) as session:
            ids = queries.unprocessed_raw_ids(session, self.rt.now() - SWEEP_AFTER)
        for raw_id in ids:
            self.submit(raw_id)


async def every(seconds: float, step: Callable[[], Awaitable[object]], stop: asyncio.Event,
                wake: Wake | None = None) -> None:
    """Run `step` every `seconds` until `stop`, or sooner when `wake` is called."""
    while not stop.is_set():
        if wake is not None:
            wake.event.clear()
        try:
            await step()
        except Exception:
            log.exception("periodic task failed")
        waits = [asyncio.ensure_future(stop.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.event.wait()))
        _, pending = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiting in pending:
            waiting.cancel()


class Planner:
    """One planning pass (pipeline.jobs.scheduler.plan) as of now; wakes the job runner when it added jobs.

    It runs in its own periodic task, apart from the job runner: a long pass (a day's first, or the
    first after a backlog) never holds back acks and SMS, and a pass that fails stops no sending."""

    def __init__(self, rt: Runtime, wake: Wake) -> None:
        self.rt, self.wake = rt, wake

    def __call__(self) -> None:
        began = time.monotonic()
        added = scheduler.plan(self.rt, self.rt.now(), pause=PLAN_PAUSE)
        if added:
            log.info("planned: %d jobs added in %.0f ms", added, (time.monotonic() - began) * 1000)
            self.wake()


async def serve(rt: Runtime, listeners: Listeners, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    wake = Wake()
    planner = Planner(rt, wake)
    processor = Processor(rt, wake)
    smtp_server = await smtp.start(rt, processor.submit, sock=listeners.smtp)
    app = web.build_app(rt, hotline.routes(rt))
    http = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", backlog=BACKLOG))
    http.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    tasks = [
        asyncio.create_task(processor.run(), name="processor"),
        asyncio.create_task(http.serve(sockets=[listeners.http]), name="http"),
        asyncio.create_task(every(60, lambda: asyncio.to_thread(processor.sweep), stop), name="sweep"),
        asyncio.create_task(every(rt.settings.plan_interval_s, lambda: asyncio.to_thread(planner), stop),
                            name="plan"),
        # the clock is read at each claim (run_due without `now`): a job's lease starts when it is taken
        asyncio.create_task(every(rt.settings.scheduler_interval_s, lambda: asyncio.to_thread(worker.run_due, rt),
                                  stop, wake), name="jobs"),
        asyncio.create_task(imap.run_pollers(rt, stop, on_recorded=wake), name="imap"),
    ]
    log.info("intake serving: SMTP %s, HTTP %s, database %s", rt.settings.smtp_listen, rt.settings.http_listen,
             rt.engine.dialect.name)
    # true now: both sockets listen (`listen` bound them) and their servers are started
    print(f"intake: SMTP on {rt.settings.smtp_listen}, HTTP on {rt.settings.http_listen}", flush=True)
    await stop.wait()
    log.info("stopping")
    smtp_server.close()
    await smtp_server.wait_closed()
    http.should_exit = True
    processor.stop()
    await asyncio.gather(*tasks, return_exceptions=True)


def run(rt: Runtime, listeners: Listeners) -> None:
    """Serve on the sockets `listen` bound until SIGINT/SIGTERM."""
    threading.current_thread().name = "intake-serve"
    # The event loop hands work to threads (hotline writer, workers) and back; with Python's default 5 ms
    # GIL switch interval each hand-off can wait that long, which is most of a webhook's latency budget.
    sys.setswitchinterval(0.0005)
    # What startup loaded (modules, policy, templates, language profiles) lives as long as the process:
    # frozen, the collector's full passes no longer walk it (they took 50-60 ms mid-load, stalling webhooks).
    gc.collect()
    gc.freeze()
    asyncio.run(serve(rt, listeners))
