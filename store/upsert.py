"""Dialect-aware INSERT … ON CONFLICT DO NOTHING, so a unique key absorbs duplicates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as DbSession


def insert_ignoring_duplicates(db: DbSession, table: Table) -> Any:
    """An INSERT for ``table`` that skips rows violating a unique constraint."""
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"no ON CONFLICT support for dialect {dialect}")


def upsert(
    db: DbSession,
    table: Table,
    index_elements: list[str],
    exclude_from_update: tuple[str, ...] = (),
) -> Any:
    """INSERT … ON CONFLICT (index_elements) DO UPDATE of every other column."""
    dialect = db.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table)
    keep = set(index_elements) | set(exclude_from_update)
    return stmt.on_conflict_do_update(
        index_elements=index_elements,
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keep},
    )
