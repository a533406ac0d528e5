"""How webhook requests reach the database: one writer thread per process, committing them in groups.

A durable commit costs an fsync (SQLite: WAL with synchronous=FULL; PostgreSQL: its WAL flush), and on
SQLite there is one writer: requests that each took the lock and committed alone would queue behind each
other's fsync, and those that found the lock taken would sleep in SQLite's busy handler (steps of up to
100 ms); a thread per request also costs each request a connection and a turn at the GIL. So one thread
takes every request waiting in its queue, applies them in one transaction, commits once and then answers
them all: a group commit, as datasette's single write thread does. Nothing is answered before the commit
that holds it; with no load a batch is one request. If a batch fails (a request that cannot be applied, a
deadlock with another process's batch on PostgreSQL, a lock timeout), each of its requests is done again
in a transaction of its own, so only the one that fails alone ends with its error. On PostgreSQL two
such threads write side by side; every batch takes its calls in one order (by CallSid) so that batches
rarely wait for each other in a circle, and when they do, PostgreSQL's deadlock detection fails one and
its requests are redone one by one.

Each call is logged in one INFO line when it ends (Twilio's final status report), once that report is
committed: a batch that was rolled back and redone logs nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future
from datetime import datetime

from pipeline.calls import service, state
from pipeline.calls.context import Context
from pipeline.errors import StoreUnavailable
from pipeline.runtime import Runtime
from pipeline.store import db

log = logging.getLogger(__name__)

Result = service.Recorded | bool  # the TwiML plan; True: a stored callback; False: stored, not applied
MAX_BATCH = 100
# PostgreSQL takes writers in parallel: a second thread overlaps one batch's round trips with another's
# (measured: p99 halved at 200 requests/s); more threads mostly wait on each other's row locks.
POSTGRES_WRITERS = 2


def writers(rt: Runtime) -> int:
    return 1 if rt.settings.is_sqlite else POSTGRES_WRITERS


def log_ended(ended: service.Ended | None) -> None:
    """The call log's line for a call that ended (the mail side logs each raw input the same way)."""
    if ended is None:
        return
    outcome = "answered"
    if ended.missed:
        due = ended.callback_due.isoformat(timespec="seconds") if ended.callback_due else "-"
        outcome = f"missed ({ended.missed}), callback_due {due}"
    log.info("call %s from %s: %s, ticket %s, %s", ended.call_sid, ended.from_number or "-", ended.status,
             ended.ticket or "-", outcome)


def result_of(applied: service.Applied) -> Result:
    return applied.plan or True


def apply_alone(rt: Runtime, ctx: Context, event: state.Event, now: datetime) -> Result:
    """One request in a transaction of its own. A failure to apply it is logged and the request kept with
    its error (the per-item guard); a failing database is raised (StoreUnavailable)."""
    try:
        with db.transaction(rt.sessions) as session:
            applied = service.record(session, ctx, event, now)
        log_ended(applied.ended)  # committed
        return result_of(applied)
    except StoreUnavailable:
        raise
    except Exception as exc:  # the per-item guard: keep the request with its error, answer anyway
        log.exception("hotline %s %s could not be applied", event.kind, event.call_sid)
        with db.transaction(rt.sessions) as session:
            service.store_event(session, event, now, error=f"{type(exc).__name__}: {exc}"[:2000])
        return False


class GroupWriter:
    """One thread, one transaction and one fsync for all the requests waiting."""

    def __init__(self, rt: Runtime, ctx: Context, max_batch: int = MAX_BATCH, threads: int = 1) -> None:
        self.rt, self.ctx, self.max_batch = rt, ctx, max_batch
        self.queue: queue.SimpleQueue[tuple[state.Event, datetime, Future[Result]]] = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._run, name=f"hotline-writer-{n}", daemon=True)
                        for n in range(threads)]
        for thread in self.threads:
            thread.start()

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
            # one lock order for every batch (stable: a call's requests keep their order), so batches of
            # two writers, or of two processes, do not deadlock on the calls they both touch
            batch.sort(key=lambda item: item[0].call_sid)
            self._write(batch)

    def _write(self, batch: list[tuple[state.Event, datetime, Future[Result]]]) -> None:
        """All in one transaction. Should it fail (a bad request, a deadlock with another process, a lock
        timeout), each request is done again alone: one bad request costs the others a retry, never their
        answer, and only the requests that fail alone get the error (503: Twilio retries)."""
        results: list[Result | BaseException]
        try:
            with db.transaction(self.rt.sessions) as session:
                applied = [service.record(session, self.ctx, event, now) for event, now, _ in batch]
        except Exception:  # rolled back: each request again, alone
            if len(batch) > 1:
                log.warning("hotline batch of %d failed; applying each alone", len(batch), exc_info=True)
            results = [self._alone(event, now) for event, now, _ in batch]
        else:  # committed
            for each in applied:
                log_ended(each.ended)
            results = [result_of(each) for each in applied]
        for (*_, future), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _alone(self, event: state.Event, now: datetime) -> Result | BaseException:
        try:
            return apply_alone(self.rt, self.ctx, event, now)
        except StoreUnavailable as exc:
            return exc
        except Exception as exc:  # never leave a request waiting
            log.exception("hotline %s %s failed", event.kind, event.call_sid)
            return StoreUnavailable(f"{type(exc).__name__}: {exc}")
