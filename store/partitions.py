"""Monthly partitions of the history on PostgreSQL: punches, day records and violations.

Each month is a partition (``violations_p2026_11``) made ahead of time by the scheduler; a
default partition catches a row outside them so nothing is refused. Old months are archived
by detaching their partitions (a plain table each, for pg_dump) and, when asked, dropping
them. SQLite (one office) has no partitions: the same calls do nothing, and retention deletes
rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session as DbSession

# table: its partition column and how a month's bound is written for it
PARTITIONED = {
    "punches": ("punched_at", "{:%Y-%m-%d} 00:00:00+00"),
    "day_records": ("day", "{:%Y-%m-%d}"),
    "violations": ("day", "{:%Y-%m-%d}"),
}
_PARTITION = re.compile(rf"^({'|'.join(PARTITIONED)})_(p\d{{4}}_\d{{2}}|default)($|_)")


def first_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months(first: date, last: date) -> list[date]:
    result, month = [], first_of(first)
    while month <= last:
        result.append(month)
        month = next_month(month)
    return result


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y_%m}"


def not_a_partition(name: str | None, kind: str, _parent: object = None) -> bool:
    """For Alembic's ``include_name``: a month's partition and its indexes are not tables of
    the models."""
    if name is None or kind not in ("table", "index"):
        return True
    return _PARTITION.match(name) is None


def _dialect(bind: Connection | DbSession) -> str:
    return bind.dialect.name if isinstance(bind, Connection) else bind.get_bind().dialect.name


def is_partitioned(bind: Connection | DbSession, table: str) -> bool:
    if _dialect(bind) != "postgresql":
        return False
    return bool(
        bind.execute(
            text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:t)"),
            {"t": table},
        ).scalar()
    )


def ensure(bind: Connection | DbSession, first: date, last: date) -> int:
    """Create the monthly partitions from ``first`` to ``last`` that do not exist yet;
    returns how many were created."""
    created = 0
    for table in PARTITIONED:
        if not is_partitioned(bind, table):
            continue
        existing = {
            r[0]
            for r in bind.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = to_regclass(:t)"
                ),
                {"t": table},
            )
        }
        for month in months(first, last):
            name = partition_name(table, month)
            if name in existing:
                continue
            bound = PARTITIONED[table][1]
            bind.execute(
                text(
                    f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES "
                    f"FROM ('{bound.format(month)}') TO ('{bound.format(next_month(month))}')"
                )
            )
            created += 1
    return created


def ensure_ahead(bind: Connection | DbSession, today: date, ahead: int = 3) -> int:
    """The partitions of this month and the ``ahead`` next ones (a daily job)."""
    last = first_of(today)
    for _ in range(ahead):
        last = next_month(last)
    return ensure(bind, first_of(today), last)


@dataclass(frozen=True, slots=True)
class Archived:
    table: str
    month: date
    partition: str
    dropped: bool


def archive(db: DbSession, before: date, drop: bool) -> list[Archived]:
    """Detach (and with ``drop`` drop) every monthly partition wholly before ``before``.

    On SQLite, with ``drop``, the rows before that month are deleted instead. With ``drop``
    the identities of the dropped punches go too: a redelivery that old would be stored
    again (into the default partition)."""
    before = first_of(before)
    done: list[Archived] = []
    if _dialect(db) != "postgresql":
        if drop:
            cut = datetime.combine(before, time(), tzinfo=UTC).replace(tzinfo=None)
            for table, (column, _) in PARTITIONED.items():
                value = cut if column == "punched_at" else before
                db.execute(text(f"DELETE FROM {table} WHERE {column} < :d"), {"d": value})
                done.append(Archived(table, before, table, True))
            db.execute(text("DELETE FROM punch_keys WHERE punched_at < :d"), {"d": cut})
        return done
    for table in PARTITIONED:
        if not is_partitioned(db, table):
            continue
        rows = db.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"
            ),
            {"t": table},
        ).all()
        for (name,) in rows:
            suffix = name.removeprefix(f"{table}_p")
            if suffix == name or len(suffix) != 7:
                continue  # the default partition
            month = date(int(suffix[:4]), int(suffix[5:7]), 1)
            if next_month(month) > before:
                continue
            db.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
            if drop:
                db.execute(text(f"DROP TABLE {name}"))
            done.append(Archived(table, month, name, drop))
    if drop:
        cut = datetime.combine(before, time(), tzinfo=UTC)
        db.execute(text("DELETE FROM punch_keys WHERE punched_at < :d"), {"d": cut})
    return done
