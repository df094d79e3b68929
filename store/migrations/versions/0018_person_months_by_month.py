"""person_months: an index by month (then person), so a month's summary reads that month's
rows, not every person-month of the history

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 14:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_person_months_month", "person_months", ["month", "employee_id"])


def downgrade() -> None:
    op.drop_index("ix_person_months_month", table_name="person_months")
