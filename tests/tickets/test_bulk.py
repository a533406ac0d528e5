"""Bulk ingest gives the same results with worker processes as without, in input order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pipeline.records import RawInput
from pipeline.runtime import Runtime
from pipeline.tickets import bulk
from tests.conftest import make_settings
from tests.mailmaker import make_mail


def test_worker_processes_change_nothing_but_speed(tmp_path: Path) -> None:
    at = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
    raws = [make_mail(f"告警 {i}", f"第 {i} 号设备宕机。" if i % 3 else "How do I configure SNMP?",
                      f"user{i}@plant.example.cn", message_id=f"bulk-{i}@plant.example.cn") for i in range(90)]
    raws.append(raws[5])  # a duplicate inside the import
    outcomes = []
    for workers in (1, 2):
        rt = Runtime.open(make_settings(tmp_path / str(workers)))
        items = iter([RawInput(raw=raw, source=f"m{i}", received_at=at) for i, raw in enumerate(raws)])
        outcomes.append([(r.source, str(r.status), r.language, r.severity, r.ticket)
                         for r in bulk.ingest_all(rt, items, batch_size=20, workers=workers)])
        rt.close()
    assert outcomes[0] == outcomes[1]
    assert [status for _, status, *_ in outcomes[0]].count("created") == 90
    assert outcomes[0][-1][1] == "duplicate" and outcomes[0][-1][4] == outcomes[0][5][4]  # its first copy's ticket
