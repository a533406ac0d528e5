"""The migrations build exactly the schema store/models.py describes, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pipeline.runtime import Runtime
from pipeline.store import db
from pipeline.store.models import Base


def test_upgrade_head_equals_models(runtime: Runtime) -> None:
    with runtime.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(runtime: Runtime) -> None:
    db.upgrade(runtime.engine)
    with runtime.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() is not None
