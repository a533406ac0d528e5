"""Engines, transactions and migrations.

SQLite is the embedded default: WAL, synchronous=FULL (a commit is on disk before we answer 250), and every
transaction begins IMMEDIATE so one writer at a time holds the lock instead of failing on upgrade; a
`snapshot` (reads only) begins DEFERRED and takes no lock: in WAL it neither waits for nor blocks the writer.
PostgreSQL is the scale-out: several processes share work through row locks (see queries.claim_due_jobs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.errors import StoreUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)
READ_ONLY = "intake_read_only"  # an execution option: this connection's transaction only reads


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)
        _sqlite_setup(engine)
        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 10)
    return create_engine(url, **options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One write transaction; a database that cannot be reached or is locked becomes StoreUnavailable."""
    try:
        with sessions.begin() as session:
            yield session
    except OperationalError as exc:
        raise StoreUnavailable(f"the database is unavailable: {exc.orig}") from exc


@contextlib.contextmanager
def snapshot(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One read-only transaction (a consistent snapshot), rolled back at the end: for work that decides
    first and writes later in a short `transaction`, so the write lock is not held while it thinks."""
    try:
        with sessions() as session:
            options: dict[str, Any] = {READ_ONLY: True}
            if session.get_bind().dialect.name == "postgresql":  # one snapshot for every statement
                options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            session.connection(execution_options=options)
            try:
                yield session
            finally:
                session.rollback()
    except OperationalError as exc:
        raise StoreUnavailable(f"the database is unavailable: {exc.orig}") from exc


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
