"""punches: exact dedupe in punch_keys; monthly partitions on PostgreSQL

A partitioned table's unique keys must hold its partition key, and a redelivered punch may
name another instant (a clock correction in between): the (device, event id) identity moves
to ``punch_keys``, which ingest fills in the statement that inserts the punches. On
PostgreSQL punches become PARTITION BY RANGE (punched_at), a month each, primary key
(id, punched_at). The unmatched punches lose their foreign key to punches.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 02:20:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

from store.partitions import ensure, first_of, next_month
from store.types import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = """id BIGINT NOT NULL DEFAULT nextval('punches_id_seq'::regclass),
device_id VARCHAR(64) NOT NULL, event_id VARCHAR(128) NOT NULL,
credential_kind VARCHAR(16) NOT NULL, credential_value VARCHAR(128) NOT NULL,
device_time TIMESTAMP WITH TIME ZONE NOT NULL, clock_offset_s FLOAT NOT NULL,
punched_at TIMESTAMP WITH TIME ZONE NOT NULL, received_at TIMESTAMP WITH TIME ZONE NOT NULL,
direction VARCHAR(8) NOT NULL, verify_mode VARCHAR(16), raw TEXT NOT NULL,
CONSTRAINT fk_punches_device_id_devices FOREIGN KEY (device_id) REFERENCES devices (id)"""
NAMES = (
    "id, device_id, event_id, credential_kind, credential_value, device_time, clock_offset_s,"
    " punched_at, received_at, direction, verify_mode, raw"
)


def _pg_rebuild(partitioned: bool) -> None:
    bind = op.get_bind()
    op.execute("ALTER TABLE punches RENAME TO punches_old")
    op.execute("ALTER TABLE punches_old RENAME CONSTRAINT pk_punches TO pk_punches_old")
    op.execute("ALTER TABLE punches_old RENAME CONSTRAINT fk_punches_device_id_devices TO fk_old")
    for name in ("ix_punches_credential_time", "ix_punches_punched_at"):
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")
    if partitioned:
        op.execute(
            f"CREATE TABLE punches ({COLUMNS}, CONSTRAINT pk_punches PRIMARY KEY (id, punched_at))"
            " PARTITION BY RANGE (punched_at)"
        )
    else:
        op.execute(
            f"CREATE TABLE punches ({COLUMNS}, CONSTRAINT pk_punches PRIMARY KEY (id),"
            " CONSTRAINT uq_punches_device_event UNIQUE (device_id, event_id))"
        )
    op.execute(
        "CREATE INDEX ix_punches_credential_time ON punches"
        " (credential_kind, credential_value, punched_at)"
    )
    op.execute("CREATE INDEX ix_punches_punched_at ON punches (punched_at)")
    op.execute("ALTER TABLE punches_old ALTER COLUMN id DROP DEFAULT")
    op.execute("ALTER SEQUENCE punches_id_seq OWNED BY punches.id")
    if partitioned:
        oldest = bind.execute(text("SELECT min(punched_at) FROM punches_old")).scalar()
        today = datetime.now(UTC).date()
        year_ago = first_of(today.replace(year=today.year - 1, day=1))
        last = first_of(today)
        for _ in range(3):
            last = next_month(last)
        ensure(bind, min(first_of(oldest.date()), year_ago) if oldest else year_ago, last)
        op.execute("CREATE TABLE punches_default PARTITION OF punches DEFAULT")
    op.execute(f"INSERT INTO punches ({NAMES}) SELECT {NAMES} FROM punches_old")
    op.execute("DROP TABLE punches_old")


def upgrade() -> None:
    op.create_table(
        "punch_keys",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("punched_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "event_id", name="pk_punch_keys"),
    )
    op.execute(
        "INSERT INTO punch_keys (device_id, event_id, punched_at)"
        " SELECT device_id, event_id, punched_at FROM punches"
    )
    with op.batch_alter_table("unmatched_punches") as batch_op:
        batch_op.drop_constraint("fk_unmatched_punches_punch_id_punches", type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        _pg_rebuild(partitioned=True)
    else:
        with op.batch_alter_table("punches") as batch_op:
            batch_op.drop_constraint("uq_punches_device_event", type_="unique")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_rebuild(partitioned=False)
    else:
        with op.batch_alter_table("punches") as batch_op:
            batch_op.create_unique_constraint("uq_punches_device_event", ["device_id", "event_id"])
    with op.batch_alter_table("unmatched_punches") as batch_op:
        batch_op.create_foreign_key(
            "fk_unmatched_punches_punch_id_punches", "punches", ["punch_id"], ["id"]
        )
    op.drop_table("punch_keys")
