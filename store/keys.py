"""Keys the server makes for itself: created once, kept in the database, shared by replicas."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import db_session
from store.models import ServerKey

KEYS = cast(Table, ServerKey.__table__)


def server_key(engine: Engine, name: str) -> str:
    """The key called ``name``, made on first use; every process gets the same one."""
    with db_session(engine) as db:
        insert: Any = (
            postgresql.insert(KEYS)
            if db.get_bind().dialect.name == "postgresql"
            else sqlite.insert(KEYS)
        )
        # Two replicas starting at once: one insert wins, both read the winner.
        db.execute(
            insert.values(
                name=name, value=secrets.token_urlsafe(48), created_at=datetime.now(UTC)
            ).on_conflict_do_nothing(index_elements=["name"])
        )
        value = db.scalar(select(ServerKey.value).where(ServerKey.name == name))
    assert value is not None
    return value
