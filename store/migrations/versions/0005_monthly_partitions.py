"""history in monthly partitions (PostgreSQL): day records and violations

Each table becomes PARTITION BY RANGE (day) with one partition per month from the oldest
row to three months ahead, and a default partition; the rows are copied across. The
violations' primary key becomes (id, day), as partitioning requires; ids keep their
sequence. SQLite is left as it is.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 02:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

from store.partitions import ensure, first_of, next_month

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3

# (table, its columns, constraints and indexes after the columns)
TABLES = {
    "day_records": (
        """employee_id INTEGER NOT NULL, day DATE NOT NULL, unit_id INTEGER NOT NULL,
        status VARCHAR(16) NOT NULL, label VARCHAR(255), first_in TIMESTAMP WITH TIME ZONE,
        last_out TIMESTAMP WITH TIME ZONE, worked_minutes INTEGER NOT NULL,
        excused VARCHAR(255), excused_kind VARCHAR(32),
        excused_fraction FLOAT DEFAULT '0' NOT NULL, closed BOOLEAN NOT NULL,
        computed_at TIMESTAMP WITH TIME ZONE NOT NULL""",
        {"pk_day_records": "PRIMARY KEY (employee_id, day)"},
        {"ix_day_records_unit_day": "(unit_id, day)"},
    ),
    "violations": (
        """id BIGINT NOT NULL DEFAULT nextval('violations_id_seq'::regclass),
        employee_id INTEGER NOT NULL, unit_id INTEGER NOT NULL, day DATE NOT NULL,
        session VARCHAR(32) NOT NULL, kind VARCHAR(16) NOT NULL, minutes INTEGER NOT NULL,
        evidence TEXT NOT NULL, provisional BOOLEAN NOT NULL, pending_excuse_id INTEGER,
        active BOOLEAN NOT NULL, detected_at TIMESTAMP WITH TIME ZONE NOT NULL,
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL, withdrawn_at TIMESTAMP WITH TIME ZONE""",
        {
            "pk_violations": "PRIMARY KEY (id, day)",
            "uq_violations_identity": "UNIQUE (employee_id, day, session, kind)",
        },
        {"ix_violations_unit_day": "(unit_id, day)", "ix_violations_day_kind": "(day, kind)"},
    ),
}


def _rebuild(partitioned: bool) -> None:
    bind = op.get_bind()
    for table, (columns, constraints, indexes) in TABLES.items():
        old = f"{table}_old"
        op.execute(f"ALTER TABLE {table} RENAME TO {old}")
        for name in constraints:
            op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {name} TO {name}_old")
        for name in indexes:
            op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")
        body = ", ".join([columns, *(f"CONSTRAINT {n} {c}" for n, c in constraints.items())])
        tail = " PARTITION BY RANGE (day)" if partitioned else ""
        op.execute(f"CREATE TABLE {table} ({body}){tail}")
        for name, cols in indexes.items():
            op.execute(f"CREATE INDEX {name} ON {table} {cols}")
        if table == "violations":
            op.execute(f"ALTER TABLE {old} ALTER COLUMN id DROP DEFAULT")
            op.execute("ALTER SEQUENCE violations_id_seq OWNED BY violations.id")
        if partitioned:
            oldest = bind.execute(text(f"SELECT min(day) FROM {old}")).scalar()
            today = datetime.now(UTC).date()
            last = first_of(today)
            for _ in range(MONTHS_AHEAD):
                last = next_month(last)
            # A year back as well: late backlogs and recomputes of last year's months.
            year_ago = first_of(today.replace(year=today.year - 1, day=1))
            ensure(bind, min(first_of(oldest), year_ago) if oldest else year_ago, last)
            op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        names = ", ".join(
            r[0]
            for r in bind.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = :t ORDER BY ordinal_position"
                ),
                {"t": table},
            )
        )
        op.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {old}")
        op.execute(f"DROP TABLE {old}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(partitioned=False)
        # the plain table's primary key is the id alone again
        op.execute("ALTER TABLE violations DROP CONSTRAINT pk_violations")
        op.execute("ALTER TABLE violations ADD CONSTRAINT pk_violations PRIMARY KEY (id)")
