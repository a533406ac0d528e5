"""Large imports (`intake ingest` of folders, mbox, Maildir): batches, with the pure stages on every core.

Per batch: the raw inputs are stored (one commit), then parsed and triaged in worker processes while this
process records the previous batch (one commit). Small imports skip the pool: starting it costs more
than it saves.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from pipeline import triage
from pipeline.records import IngestResult, RawInput
from pipeline.runtime import Runtime
from pipeline.tickets import ingest

POOL_THRESHOLD = 64  # messages in the first batch before a pool pays off
CHUNK = 25  # messages per task sent to a worker process

_worker_args: tuple[Any, ...] = ()


def _init_worker(policy: dict[str, Any], prefix: str, max_bytes: int, own_addresses: frozenset[str],
                 own_domains: frozenset[str]) -> None:
    global _worker_args
    _worker_args = (triage.TriageRules.from_policy(policy, ticket_prefix=prefix), max_bytes, own_addresses,
                    own_domains)


def _understand_chunk(raws: list[bytes]) -> list[ingest.Understood]:
    return [ingest.understand(raw, *_worker_args) for raw in raws]


class Understander:
    """Parse + triage, in worker processes when the import is large enough."""

    def __init__(self, rt: Runtime, workers: int) -> None:
        self.rt = rt
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:
            settings = rt.settings
            self.pool = ProcessPoolExecutor(
                max_workers=workers,
                # fork: the workers inherit the loaded modules instead of importing them again (~3 s);
                # ingest runs no threads of its own that a fork could copy mid-operation
                mp_context=multiprocessing.get_context("fork"),
                initializer=_init_worker,
                initargs=(rt.policy, settings.ticket_prefix, settings.max_message_bytes, rt.own_addresses,
                          rt.own_domains),
            )

    def submit(self, raws: list[bytes]) -> list[Future[list[ingest.Understood]]] | list[ingest.Understood]:
        if self.pool is None:
            return [ingest.understand_in(self.rt, raw) for raw in raws]
        return [self.pool.submit(_understand_chunk, raws[i:i + CHUNK]) for i in range(0, len(raws), CHUNK)]

    @staticmethod
    def collect(pending: list[Future[list[ingest.Understood]]] | list[ingest.Understood]) -> list[ingest.Understood]:
        if pending and isinstance(pending[0], Future):
            return [u for future in pending for u in future.result()]  # type: ignore[union-attr]
        return pending  # type: ignore[return-value]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _record(rt: Runtime, items: list[RawInput], stored: list[Any], pending_index: list[int],
            understood: list[ingest.Understood]) -> list[IngestResult]:
    recorded = ingest.record(rt, [(stored[i].raw_id, items[i].source, items[i].received_at, u)
                                  for i, u in zip(pending_index, understood, strict=True)])
    return ingest.results_in_order(items, stored, pending_index, recorded)


def ingest_all(rt: Runtime, items: Iterator[RawInput], batch_size: int = 200,
               workers: int | None = None) -> Iterator[IngestResult]:
    """Ingest everything, yielding results in input order as each batch commits."""
    first = list(itertools.islice(items, batch_size))
    if workers is None:
        # Parse + triage cost about twice what recording a message costs, so two workers keep this
        # process busy even on two cores (bench/ingest.py on 2 cores: 1 process ~1,500/s, 2 workers
        # ~2,000-2,300/s; 3 workers no better).
        cores = os.cpu_count() or 1
        workers = min(cores, 4) if cores > 1 and len(first) >= POOL_THRESHOLD else 1
    understander = Understander(rt, workers)
    try:
        previous: tuple[list[RawInput], list[Any], list[int], Any] | None = None
        batch = first
        while batch or previous:
            current = None
            if batch:
                stored = ingest.store(rt, batch)
                index = ingest.to_process(stored)
                current = (batch, stored, index, understander.submit([batch[i].raw for i in index]))
            if previous is not None:
                done_items, done_stored, done_index, pending = previous
                yield from _record(rt, done_items, done_stored, done_index, understander.collect(pending))
            previous = current
            batch = list(itertools.islice(items, batch_size)) if batch else []
    finally:
        understander.close()
