"""What the edges share once settings are read: the database, the policy and the rules built from it.

Built once per process by `Runtime.open(settings)`; the pure core gets plain values out of it, never the
Runtime itself.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from pipeline import render, triage
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.sla import deadlines, workdays
from pipeline.store import db


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)  # compared and hashed by identity: one per process
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: dict[str, Any]
    clock: Any = field(default=utcnow)  # tests may pass a fixed clock

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True, **engine_options: Any) -> Runtime:
        engine = db.make_engine(settings.database_url, **engine_options)
        if migrate:
            db.upgrade(engine)
        policy = load_policy(settings.policy, settings.policy_file)
        return cls(settings, engine, db.session_factory(engine), policy)

    def close(self) -> None:
        self.engine.dispose()

    def now(self) -> datetime:
        return self.clock()

    @cached_property
    def triage_rules(self) -> triage.TriageRules:
        return triage.TriageRules.from_policy(self.policy, ticket_prefix=self.settings.ticket_prefix)

    @cached_property
    def calendar(self) -> workdays.WorkCalendar:
        return workdays.WorkCalendar.from_policy(self.policy)

    @cached_property
    def service_policy(self) -> deadlines.ServicePolicy:
        return deadlines.ServicePolicy.from_policy(self.policy, self.settings.zone)

    @cached_property
    def templates(self) -> render.Templates:
        return render.Templates(self.settings.template_dir)

    @cached_property
    def worker_id(self) -> str:
        return self.settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"

    @property
    def own_addresses(self) -> frozenset[str]:
        return frozenset(self.settings.service_addresses)

    @property
    def own_domains(self) -> frozenset[str]:
        return self.settings.service_domains
