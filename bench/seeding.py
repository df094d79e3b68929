"""The benchmarks' databases: a fresh PostgreSQL database migrated to head, seeded set-based in
SQL (agencies, units of 30 people, employees), dropped after the run.

    with bench_database() as url, connect(url) as conn:
        units = seed_organisation(conn, agencies=30, employees=30_000)
        run_sql(conn, HISTORY_SQL, {"since": ..., "until": ...})
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from psycopg.rows import TupleRow

from bench.ingest import ADMIN

ORG_SQL = """
SELECT setseed(%(seed)s);
INSERT INTO agencies (id, code, name, timezone)
  SELECT g, %(agency_code)s::text || g, %(agency_name)s::text || g, 'Asia/Ho_Chi_Minh'
  FROM generate_series(1, %(agencies)s) g;
INSERT INTO units (id, agency_id, code, name)
  SELECT g, 1 + (g - 1) %% %(agencies)s, 'U' || g, 'Phòng số ' || g
  FROM generate_series(1, %(units)s) g;
INSERT INTO employees (id, code, full_name, unit_id, active_from)
  SELECT g, 'NV' || lpad(g::text, %(code_width)s, '0'), 'Cán bộ ' || g,
         1 + (g - 1) %% %(units)s, DATE '2024-01-01'
  FROM generate_series(1, %(employees)s) g;
"""


@contextmanager
def bench_database() -> Iterator[str]:
    """A new database (``kc_bench_…``) migrated to head: its SQLAlchemy URL; dropped after,
    whatever happened."""
    from store.db import upgrade

    name = f"kc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(p.split("=", 1) for p in ADMIN.split())
    user, host = params.get("user", "postgres"), params.get("host", "127.0.0.1")
    url = f"postgresql+psycopg://{user}@{host}:{params.get('port', '5432')}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connect(url: str) -> psycopg.Connection[TupleRow]:
    """A plain psycopg connection (autocommit) to the database of a SQLAlchemy ``url``."""
    return psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True)


def run_sql(conn: psycopg.Connection[TupleRow], script: str, values: Mapping[str, object]) -> None:
    """Each statement of ``script`` (ended by ``;`` and a new line) with ``values``."""
    for statement in script.split(";\n"):
        if statement.strip():
            conn.execute(statement, values)


def seed_organisation(
    conn: psycopg.Connection[TupleRow],
    *,
    agencies: int,
    employees: int,
    seed: float = 0.42,
    agency_code: str = "S",
    agency_name: str = "Sở số ",
    code_width: int = 6,
) -> int:
    """Agencies ``S1…`` (or ``agency_code``), one unit per 30 people ``U1…`` spread over them,
    employees ``NV000001…`` spread over the units; ``setseed(seed)`` first, so what this
    session draws after it is the same at every run. Returns the number of units."""
    units = max(1, employees // 30)
    values = {
        "seed": seed,
        "agencies": agencies,
        "units": units,
        "employees": employees,
        "agency_code": agency_code,
        "agency_name": agency_name,
        "code_width": code_width,
    }
    run_sql(conn, ORG_SQL, values)
    return units
