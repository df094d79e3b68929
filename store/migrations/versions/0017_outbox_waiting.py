"""outbox: a message waits for its recipient's address (chờ địa chỉ) instead of failing

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')"
NEW = "status IN ('queued', 'sending', 'sent', 'failed', 'cancelled', 'waiting')"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint("status", NEW)


def downgrade() -> None:
    op.execute("UPDATE outbox SET status = 'failed' WHERE status = 'waiting'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint("status", OLD)
