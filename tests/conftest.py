"""Shared fixtures: settings in a scratch folder, a Runtime on SQLite and (when configured) PostgreSQL.

INTAKE_TEST_POSTGRES_URL names a PostgreSQL database the tests may use to create throw-away databases;
without it the PostgreSQL variants skip with that reason. With INTAKE_TEST_REQUIRE_SERVERS=1 (CI) a
missing real server fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipeline.runtime import Runtime
from pipeline.settings import Settings, load_settings
from pipeline.store import db
from pipeline.store.models import Base

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
SERVICE = "service@support.example"
POSTGRES_URL = os.environ.get("INTAKE_TEST_POSTGRES_URL")
REQUIRE_SERVERS = os.environ.get("INTAKE_TEST_REQUIRE_SERVERS") == "1"


def missing_server(reason: str) -> None:
    """Skip, or fail in CI where every real server must be there."""
    if REQUIRE_SERVERS:
        pytest.fail(f"required server missing: {reason}")
    pytest.skip(reason)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    environ = {
        "INTAKE_DATABASE_URL": f"sqlite:///{tmp_path}/intake.db",
        "INTAKE_SERVICE_ADDRESSES": SERVICE,
        "INTAKE_OUTBOX_DIR": str(tmp_path / "outbox"),
        "INTAKE_SPOOL_DIR": str(tmp_path / "spool"),
    }
    return load_settings(environ, **overrides)


class PostgresDatabases:
    """Creates databases on the test server and drops them at the end of the session."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def new(self) -> str:
        name = f"intake_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    if not POSTGRES_URL:
        missing_server("INTAKE_TEST_POSTGRES_URL is not set")
    try:
        databases = PostgresDatabases(POSTGRES_URL or "")
        with databases.admin.connect():
            pass
    except Exception as exc:
        missing_server(f"PostgreSQL at {POSTGRES_URL} unreachable: {exc}")
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresDatabases) -> str:
    """One migrated PostgreSQL database for the session; tests truncate it (see `runtime`)."""
    url = postgres.new()
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    return url


def truncate_all(rt: Runtime) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with rt.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def runtime(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """A Runtime on SQLite, and again on PostgreSQL when INTAKE_TEST_POSTGRES_URL is set."""
    overrides: dict[str, Any] = {}
    if backend == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    rt = Runtime.open(make_settings(tmp_path, **overrides))
    if backend == "postgresql":
        truncate_all(rt)
    yield rt
    rt.close()


@pytest.fixture
def sqlite_runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.open(make_settings(tmp_path))
    yield rt
    rt.close()
