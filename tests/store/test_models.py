"""UtcDateTime on SQLite: the one-step bind processor stores exactly what the decorator plus SQLAlchemy's
DATETIME would, and reads back as the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select
from sqlalchemy.dialects import sqlite

from pipeline.store.models import UtcDateTime

ZONES = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
AWARE = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=ZONES)


@given(AWARE)
def test_sqlite_text_is_what_the_dialect_would_store(value: datetime) -> None:
    dialect = sqlite.dialect()
    column_type = UtcDateTime()
    dialects_own = column_type.impl_instance.dialect_impl(dialect).bind_processor(dialect)
    assert dialects_own is not None
    expected = dialects_own(column_type.process_bind_param(value, dialect))
    assert column_type.bind_processor(dialect)(value) == expected  # type: ignore[misc]


def test_round_trip_and_naive_refused(tmp_path: Path) -> None:
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime()))
    engine = create_engine(f"sqlite:///{tmp_path}/t.db")
    table.metadata.create_all(engine)
    shanghai = datetime(2026, 11, 23, 10, 43, 21, 5, tzinfo=timezone(timedelta(hours=8)))
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"at": shanghai}, {"at": None}])
        assert connection.execute(select(table.c.at).order_by(table.c.id)).scalars().all() == [
            shanghai.astimezone(UTC), None]
        with pytest.raises(Exception, match="naive datetime"):
            connection.execute(table.insert(), [{"at": datetime(2026, 11, 23)}])
    engine.dispose()
