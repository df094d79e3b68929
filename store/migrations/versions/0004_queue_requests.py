"""runner at scale: one queue row per request; no foreign keys on derived rows

A request merged into an already queued key (ON CONFLICT DO NOTHING) was lost when a runner
claimed that key while the request's transaction was still open. Each request is now a row
of its own, visible to runners only once its transaction commits.

Day records, violations and their events are derived, written only by the runner from rows it
has just read: their foreign keys cost about 40 % of the runner's inserts and cannot follow
them into monthly partitions, so they go.

Person-months: the rollups summaries read (kept by the runner and by reviews).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.types import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _queue(name: str, requests: bool) -> None:
    columns: list[sa.Column[object]] = []
    if requests:
        columns.append(sa.Column("id", BigId, autoincrement=True, nullable=False))
    columns += [
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("enqueued_at", UtcDateTime(), nullable=False),
    ]
    key = ("id",) if requests else ("employee_id", "day")
    op.create_table(name, *columns, sa.PrimaryKeyConstraint(*key, name="pk_recompute_queue"))


def _swap(requests: bool) -> None:
    op.rename_table("recompute_queue", "recompute_queue_old")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE recompute_queue_old RENAME CONSTRAINT pk_recompute_queue TO pk_old")
    _queue("recompute_queue", requests)
    op.execute(
        "INSERT INTO recompute_queue (employee_id, day, reason, enqueued_at) "
        "SELECT employee_id, day, min(reason), min(enqueued_at) FROM recompute_queue_old "
        "GROUP BY employee_id, day"
    )
    op.drop_table("recompute_queue_old")


# (table, constraint, column, referred table)
DERIVED_KEYS = [
    ("day_records", "fk_day_records_employee_id_employees", "employee_id", "employees"),
    ("day_records", "fk_day_records_unit_id_units", "unit_id", "units"),
    ("violations", "fk_violations_employee_id_employees", "employee_id", "employees"),
    ("violations", "fk_violations_unit_id_units", "unit_id", "units"),
    (
        "violation_events",
        "fk_violation_events_violation_id_violations",
        "violation_id",
        "violations",
    ),
]


def upgrade() -> None:
    _swap(requests=True)
    counts = [
        "working_days",
        "present_days",
        "late_count",
        "late_minutes",
        "early_count",
        "early_minutes",
    ]
    days = ["absent_days"]
    more = ["missing_punches"]
    excused = ["excused_leave", "excused_sick", "excused_trip", "excused_study", "excused_other"]
    reviews = ["confirmed", "excused", "dismissed"]
    runs = ["absent_status_days", "absent_run_head", "absent_run_tail", "absent_run_max"]
    op.create_table(
        "person_months",
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in counts],
        *[sa.Column(c, sa.Float(), nullable=False) for c in days],
        *[sa.Column(c, sa.Integer(), nullable=False) for c in more],
        *[sa.Column(c, sa.Float(), nullable=False) for c in excused],
        *[sa.Column(c, sa.Integer(), nullable=False) for c in reviews + runs],
        sa.PrimaryKeyConstraint("employee_id", "month", "unit_id", name="pk_person_months"),
    )
    op.create_index("ix_person_months_unit_month", "person_months", ["unit_id", "month"])
    for table, name, _column, _referred in DERIVED_KEYS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    op.drop_index("ix_person_months_unit_month", table_name="person_months")
    op.drop_table("person_months")
    for table, name, column, referred in DERIVED_KEYS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(name, referred, [column], ["id"])
    _swap(requests=False)
