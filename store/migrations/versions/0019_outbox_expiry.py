"""outbox: a notice that waited too long for an address expires (hết hạn), not sent later

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.types import UtcDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "status IN ('queued', 'sending', 'sent', 'failed', 'cancelled', 'waiting')"
NEW = "status IN ('queued', 'sending', 'sent', 'failed', 'cancelled', 'waiting', 'expired')"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        # Set when the message first waits for an address: waiting since + the allowed wait.
        batch_op.add_column(sa.Column("expires_at", UtcDateTime(), nullable=True))
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint("status", NEW)


def downgrade() -> None:
    op.execute("UPDATE outbox SET status = 'cancelled' WHERE status = 'expired'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint("status", OLD)
        batch_op.drop_column("expires_at")
