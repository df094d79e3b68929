"""person_months: counted late arrivals by weekday and by minutes late, so the summary's
charts read the rollups instead of every violation of the period (filled from the
violations here; kept by the runner, reviews and rebuild as the other sums)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEEKDAYS = ("late_mon", "late_tue", "late_wed", "late_thu", "late_fri", "late_sat", "late_sun")
BUCKETS = (
    ("late_1_5", "x.minutes < 6"),
    ("late_6_15", "x.minutes >= 6 AND x.minutes < 16"),
    ("late_16_30", "x.minutes >= 16 AND x.minutes < 31"),
    ("late_31_60", "x.minutes >= 31 AND x.minutes < 61"),
    ("late_over_60", "x.minutes >= 61"),
)
COUNTED = "(s.decision IS NULL OR s.decision = 'confirmed')"


def upgrade() -> None:
    for name in (*WEEKDAYS, *(b for b, _ in BUCKETS)):
        op.add_column(
            "person_months", sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        weekday = "(extract(isodow FROM x.day)::int - 1)"
        month = "date_trunc('month', x.day)::date"
    else:
        weekday = "((CAST(strftime('%w', x.day) AS INTEGER) + 6) % 7)"
        month = "date(x.day, 'start of month')"
    sums = [
        f"sum(CASE WHEN {weekday} = {i} THEN 1 ELSE 0 END) AS {n}" for i, n in enumerate(WEEKDAYS)
    ]
    sums += [f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {n}" for n, cond in BUCKETS]
    names = [*WEEKDAYS, *(b for b, _ in BUCKETS)]
    late = (
        f"SELECT x.employee_id, {month} AS month, x.unit_id, {', '.join(sums)} FROM violations x"
        " LEFT JOIN review_state s ON s.employee_id = x.employee_id AND s.day = x.day"
        " AND s.session = x.session AND s.kind = x.kind"
        f" WHERE x.active AND x.kind = 'late' AND {COUNTED} GROUP BY 1, 2, 3"
    )
    if bind.dialect.name == "postgresql":
        op.execute(
            f"UPDATE person_months p SET {', '.join(f'{n} = l.{n}' for n in names)}"
            f" FROM ({late}) l WHERE p.employee_id = l.employee_id AND p.month = l.month"
            " AND p.unit_id = l.unit_id"
        )
        # every row was rewritten: the planner's figures again (VACUUM cannot run in the
        # migration's transaction; autovacuum, or an operator, reclaims the old versions)
        op.execute("ANALYZE person_months")
    else:
        op.execute(f"CREATE TEMPORARY TABLE late_shape AS {late}")
        op.execute(
            f"UPDATE person_months SET ({', '.join(names)}) = (SELECT {', '.join(names)}"
            " FROM late_shape l WHERE l.employee_id = person_months.employee_id"
            " AND l.month = person_months.month AND l.unit_id = person_months.unit_id)"
            " WHERE EXISTS (SELECT 1 FROM late_shape l"
            " WHERE l.employee_id = person_months.employee_id"
            " AND l.month = person_months.month AND l.unit_id = person_months.unit_id)"
        )
        op.execute("DROP TABLE late_shape")


def downgrade() -> None:
    for name in reversed((*WEEKDAYS, *(b for b, _ in BUCKETS))):
        op.drop_column("person_months", name)
