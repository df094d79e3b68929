"""person_months: a partial index of the months that start or end absent, which a summary
reads to join absence runs across months (a year's were found by reading every month)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNS = "absent_run_head > 0 OR absent_run_tail > 0"


def upgrade() -> None:
    op.create_index(
        "ix_person_months_runs",
        "person_months",
        ["month", "employee_id"],
        postgresql_where=sa.text(RUNS),
        sqlite_where=sa.text(RUNS),
    )


def downgrade() -> None:
    op.drop_index("ix_person_months_runs", table_name="person_months")
