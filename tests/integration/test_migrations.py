"""Alembic migrations run up, down and up again on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from store.db import MIGRATIONS_DIR, make_engine
from store.models import Base
from store.partitions import not_a_partition
from tests.support import create_pg_database, drop_pg_database, pg_available, require


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migrations_round_trip_and_leave_no_drift(dialect: str, tmp_path: Path) -> None:
    if dialect == "postgresql":
        require(pg_available(), "PostgreSQL is not reachable")
        url = create_pg_database()
    else:
        url = f"sqlite:///{tmp_path / 'm.db'}"
    try:
        cfg = alembic_config(url)
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
        engine = make_engine(url)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": not_a_partition})
            drift = compare_metadata(context, Base.metadata)
        engine.dispose()
        assert drift == []
    finally:
        if dialect == "postgresql":
            drop_pg_database(url)
