"""manual punch side: which session and which side (vào / ra) a forgotten punch was

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The request's session is its ``sessions`` (one name for a forgotten punch).
    with op.batch_alter_table("staff_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("punch_direction", sa.String(length=8), nullable=True))
    with op.batch_alter_table("manual_punches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("manual_punches", schema=None) as batch_op:
        batch_op.drop_column("session")
    with op.batch_alter_table("staff_requests", schema=None) as batch_op:
        batch_op.drop_column("punch_direction")
