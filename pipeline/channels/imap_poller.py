"""The poller of one mailbox, run in a thread of its own: hold the lease, connect, take what is new, IDLE.

Order of one batch: fetch with BODY.PEEK[] -> store the raw bytes (commit) -> flag or move on the server ->
move the cursor -> process (parse, triage, ticket). A crash anywhere in between is harmless: what was not
marked is fetched again, and the store's dedupe (Message-ID or content hash) keeps it from being
ticketed twice. The same dedupe makes a UIDVALIDITY change a safe full re-scan.

Failures reconnect with exponential backoff and jitter, reset by a good sync; a refused login waits much
longer, since the same password will not work a second later. The lease is kept while backing off, so a
broken mailbox does not bounce between processes.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from pipeline.channels import imap_state, lease
from pipeline.channels.imap_session import Fetched, MailboxLoginFailed, MailboxSession, MailboxUnavailable
from pipeline.errors import StoreUnavailable
from pipeline.records import RawInput
from pipeline.runtime import Runtime
from pipeline.settings import ImapMailbox
from pipeline.tickets import ingest, raw

log = logging.getLogger("pipeline.channels.imap")
MAX_IDLE_S = 600.0  # re-issue IDLE at least this often: some servers (Gmail) drop idle sessions after ~10 min
IDLE_SLICE_S = 1.0  # how often an idling poller looks at its stop flag and its lease


class LeaseLost(Exception):
    """Another process took this mailbox over (we stalled past our lease): stop touching it."""


@dataclass
class Backoff:
    initial_s: float = 1.0
    login_initial_s: float = 30.0
    cap_s: float = 300.0
    failures: int = 0

    def next(self, login: bool) -> float:
        """The next delay: doubling up to the cap, half of it random so restarted pollers spread out."""
        delay = min(self.cap_s, (self.login_initial_s if login else self.initial_s) * 2 ** self.failures)
        self.failures += 1
        return delay / 2 + random.uniform(0, delay / 2)

    def reset(self) -> None:
        self.failures = 0


class Poller:
    def __init__(self, rt: Runtime, mailbox: ImapMailbox, stop: threading.Event | None = None,
                 holder: str | None = None, on_recorded: Callable[[], None] | None = None) -> None:
        self.rt = rt
        self.on_recorded = on_recorded  # wakes the job worker: the acks just written are due now
        self.box = mailbox
        self.stop = stop or threading.Event()
        self.holder = holder or f"{rt.worker_id}/{uuid.uuid4().hex[:8]}"
        self.source = f"imap:{mailbox.name}"
        self.backoff = Backoff()
        self.renewed_at = float("-inf")

    # --- the lease -----------------------------------------------------------------------------------

    def take(self) -> bool:
        if lease.hold(self.rt.sessions, self.box.name, self.holder, self.rt.now(),
                      timedelta(seconds=self.box.lease_s)):
            self.renewed_at = time.monotonic()
            return True
        return False

    def keep(self) -> None:
        """Renew the lease when a third of it has passed; LeaseLost when someone else has it now."""
        if time.monotonic() - self.renewed_at >= self.box.lease_s / 3 and not self.take():
            raise LeaseLost(f"mailbox {self.box.name} was taken over by another process")

    def let_go(self) -> None:
        try:
            lease.release(self.rt.sessions, self.box.name, self.holder, self.rt.now())
        except StoreUnavailable as exc:
            log.warning("imap %s: could not release the lease: %s", self.box.name, exc)

    def note(self, **fields: object) -> None:
        imap_state.report(self.rt.sessions, self.box.name, self.holder, self.rt.now(), **fields)  # type: ignore[arg-type]

    # --- taking new mail -----------------------------------------------------------------------------

    def sync(self, session: MailboxSession) -> int:
        """Store, mark and process every message above the cursor; how many were fetched."""
        cursor = imap_state.cursor(self.rt.sessions, self.box.name)
        last = cursor.last_uid
        if cursor.uidvalidity != session.uidvalidity:
            if cursor.uidvalidity is not None:
                log.warning("imap %s: UIDVALIDITY changed %s -> %s; re-scanning, duplicates are suppressed",
                            self.box.name, cursor.uidvalidity, session.uidvalidity)
            last = 0
            self.advance(session.uidvalidity, 0)
        uids = session.new_uids(last)
        taken = 0
        for start in range(0, len(uids), self.box.batch_size):
            if self.stop.is_set():  # a long first sync must not hold up a shutdown; the cursor says where
                break
            batch = uids[start:start + self.box.batch_size]
            self.keep()
            fetched = session.fetch(batch)
            stored = ingest.store(self.rt, [RawInput(f.raw, self.source, f.internal_at) for f in fetched])
            session.mark([f.uid for f in fetched])  # only now: the rows are committed
            self.advance(session.uidvalidity, batch[-1])
            self.process(fetched, stored)
            taken += len(fetched)
        self.note(connected=True, last_error=None, last_seen_at=self.rt.now())
        return taken

    def advance(self, uidvalidity: int, last_uid: int) -> None:
        if not imap_state.advance(self.rt.sessions, self.box.name, self.holder, uidvalidity, last_uid,
                                  self.rt.now()):
            raise LeaseLost(f"mailbox {self.box.name} was taken over by another process")

    def process(self, fetched: list[Fetched], stored: list[raw.Stored]) -> None:
        pending = [(stored[i].raw_id, self.source, fetched[i].internal_at,
                    ingest.understand_in(self.rt, fetched[i].raw)) for i in ingest.to_process(stored)]
        for result in ingest.record(self.rt, pending):
            log.info("imap %s: raw %s %s", self.box.name, result.raw_id, result.summary())
        if pending and self.on_recorded:
            self.on_recorded()

    # --- waiting for more ----------------------------------------------------------------------------

    def wait(self, session: MailboxSession) -> None:
        """Until the server announces something (IDLE) or the poll interval has passed."""
        if not session.can_idle:
            self.sleep(self.box.poll_interval_s)
            return
        until = time.monotonic() + min(self.box.idle_renew_s, MAX_IDLE_S)
        session.idle_start()
        try:
            while not self.stop.is_set() and (left := until - time.monotonic()) > 0:
                self.keep()
                began = time.monotonic()
                if session.idle_wait(min(IDLE_SLICE_S, left)):
                    return
                if time.monotonic() - began < 0.01:
                    return  # back at once with nothing: the socket was closed; the next command will say so
        finally:
            session.idle_stop()

    def sleep(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while not self.stop.is_set() and (left := until - time.monotonic()) > 0:
            self.keep()
            self.stop.wait(min(left, max(self.box.lease_s / 3, 0.1)))

    # --- the loop ------------------------------------------------------------------------------------

    def watch(self) -> None:
        session = MailboxSession(self.box)
        try:
            session.open()
            log.info("imap %s: connected to %s:%s as %s, folder %s, UIDVALIDITY %s, %s", self.box.name,
                     self.box.host, self.box.port, self.box.user, self.box.folder, session.uidvalidity,
                     "IDLE" if session.can_idle else f"polling every {self.box.poll_interval_s:g} s")
            self.note(connected=True, idle=session.can_idle, last_error=None, last_seen_at=self.rt.now())
            while not self.stop.is_set():
                self.sync(session)
                self.backoff.reset()
                self.wait(session)
        finally:
            session.close()

    def attempt(self) -> float:
        """Watch until stopped; the delay before the next try when it failed."""
        try:
            self.watch()
        except LeaseLost as exc:
            log.warning("imap %s: %s", self.box.name, exc)
        except MailboxLoginFailed as exc:
            return self.failed(exc, login=True)
        except (MailboxUnavailable, StoreUnavailable) as exc:
            return self.failed(exc, login=False)
        except Exception as exc:  # the loop's one broad guard: log the traceback, back off, go on
            log.exception("imap %s: unexpected failure", self.box.name)
            return self.failed(exc, login=False)
        return 0.0

    def failed(self, exc: Exception, login: bool) -> float:
        delay = self.backoff.next(login)
        message = f"{self.box.user}@{self.box.host}:{self.box.port}: {exc}; retrying in {delay:.0f} s"
        log.warning("imap %s: %s", self.box.name, message)
        with contextlib.suppress(StoreUnavailable):  # the database is the problem; the log has it
            self.note(connected=False, idle=False, last_error=message)
        return delay

    def pause(self, seconds: float) -> None:
        try:
            self.sleep(seconds)
        except (LeaseLost, StoreUnavailable) as exc:
            log.warning("imap %s: %s", self.box.name, exc)

    def try_take(self) -> bool:
        try:
            return self.take()
        except StoreUnavailable as exc:
            log.warning("imap %s: cannot reach the store for the lease: %s", self.box.name, exc)
            return False

    def why_not_taken(self) -> str:
        try:
            with self.rt.sessions() as session:
                holder = lease.current(session, self.box.name)
        except SQLAlchemyError as exc:
            return f"the store is unavailable: {type(exc).__name__}"
        until = holder.lease_until.isoformat(timespec="seconds") if holder.lease_until else "?"
        return f"watched by {holder.holder} (lease until {until}); try again later"

    def run(self) -> None:
        """The thread body: wait for the lease, watch the mailbox, until `stop` is set."""
        try:
            while not self.stop.is_set():
                if not self.try_take():
                    self.stop.wait(min(5.0, self.box.lease_s / 3))
                    continue
                delay = self.attempt()
                if delay:
                    self.pause(delay)
        finally:
            self.let_go()

    def once(self) -> tuple[int, str | None]:
        """`intake imap poll-once`: take the lease, sync, let go. (messages taken, error or None)."""
        if not self.try_take():
            return 0, self.why_not_taken()
        session = MailboxSession(self.box)
        try:
            session.open()
            return self.sync(session), None
        except (MailboxUnavailable, StoreUnavailable, LeaseLost) as exc:
            message = f"{self.box.user}@{self.box.host}:{self.box.port}: {exc}"
            log.warning("imap %s: %s", self.box.name, message)
            self.note(connected=False, idle=False, last_error=message)
            return 0, message
        finally:
            session.close()
            self.let_go()
