"""How webhook requests reach the database: one writer thread on SQLite, a thread per request elsewhere.

SQLite has one writer, and a durable commit (WAL, synchronous=FULL) costs an fsync. Requests that each
took the lock and committed alone would queue behind each other's fsync, and those that found the lock
taken would sleep in SQLite's busy handler (steps of up to 100 ms). So on SQLite one thread takes every
request waiting in its queue, applies them in one transaction, commits once and then answers them all:
a group commit, as datasette's single write thread does. Nothing is answered before the commit that
holds it; if any request of a batch fails, the batch rolls back and each request is done again in a
transaction of its own, so only the bad one ends with its error. With no load a batch is one request.

On PostgreSQL each request is its own short transaction in a worker thread; row locks keep concurrent
requests for one call in order.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from pipeline.calls import service, state
from pipeline.calls.context import Context
from pipeline.errors import StoreUnavailable
from pipeline.runtime import Runtime
from pipeline.store import db

log = logging.getLogger(__name__)

Result = service.Recorded | bool  # the TwiML plan; True: a stored callback; False: stored, not applied
MAX_BATCH = 100


def apply_alone(rt: Runtime, ctx: Context, event: state.Event, now: datetime) -> Result:
    """One request in a transaction of its own. A failure to apply it is logged and the request kept with
    its error (the per-item guard); a failing database is raised (StoreUnavailable)."""
    try:
        with db.transaction(rt.sessions) as session:
            return service.record(session, ctx, event, now) or True
    except StoreUnavailable:
        raise
    except Exception as exc:  # the per-item guard: keep the request with its error, answer anyway
        log.exception("hotline %s %s could not be applied", event.kind, event.call_sid)
        with db.transaction(rt.sessions) as session:
            service.store_event(session, event, now, error=f"{type(exc).__name__}: {exc}"[:2000])
        return False


class ThreadWriter:
    """PostgreSQL (and any database with concurrent writers): one transaction per request."""

    def __init__(self, rt: Runtime, ctx: Context) -> None:
        self.rt, self.ctx = rt, ctx

    def write(self, event: state.Event) -> Result:
        return apply_alone(self.rt, self.ctx, event, self.rt.now())

    async def submit(self, event: state.Event) -> Result:
        return await run_in_threadpool(self.write, event)


class GroupWriter:
    """SQLite: one thread, one transaction and one fsync for all the requests waiting."""

    def __init__(self, rt: Runtime, ctx: Context, max_batch: int = MAX_BATCH) -> None:
        self.rt, self.ctx, self.max_batch = rt, ctx, max_batch
        self.queue: queue.SimpleQueue[tuple[state.Event, datetime, Future[Result]]] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="hotline-writer", daemon=True)
        self.thread.start()

    async def submit(self, event: state.Event) -> Result:
        future: Future[Result] = Future()
        self.queue.put((event, self.rt.now(), future))
        return await asyncio.wrap_future(future)

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[tuple[state.Event, datetime, Future[Result]]]) -> None:
        """All in one transaction; should any request fail, each is done again alone, so one bad request
        costs the others a retry, never their answer."""
        try:
            try:
                with db.transaction(self.rt.sessions) as session:
                    results = [service.record(session, self.ctx, event, now) or True for event, now, _ in batch]
            except StoreUnavailable:
                raise
            except Exception:  # the batch is rolled back: each request again, alone
                results = [apply_alone(self.rt, self.ctx, event, now) for event, now, _ in batch]
        except StoreUnavailable as exc:
            for *_, future in batch:
                future.set_exception(exc)
            return
        except Exception as exc:  # never leave a request waiting: it gets the error (503, Twilio retries)
            log.exception("hotline batch of %d failed", len(batch))
            for *_, future in batch:
                future.set_exception(StoreUnavailable(f"{type(exc).__name__}: {exc}"))
            return
        for (*_, future), result in zip(batch, results, strict=True):
            future.set_result(result)


def for_runtime(rt: Runtime, ctx: Context) -> ThreadWriter | GroupWriter:
    return GroupWriter(rt, ctx) if rt.settings.is_sqlite else ThreadWriter(rt, ctx)
