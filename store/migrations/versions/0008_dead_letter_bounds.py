"""dead letters bounded: one row per distinct message, per-device tallies beyond a cap

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.types import UtcDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("payload_size", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("last_received_at", UtcDateTime(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_dead_letters_fingerprint"), ["fingerprint"]
        )
    op.create_table(
        "dead_letter_tallies",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_received_at", UtcDateTime(), nullable=False),
        sa.Column("last_received_at", UtcDateTime(), nullable=False),
        sa.Column("sample_reason", sa.Text(), nullable=False),
        sa.Column("sample_payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "reason_code", name=op.f("pk_dead_letter_tallies")),
    )
    with op.batch_alter_table("dead_letter_tallies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dead_letter_tallies_last_received_at"),
            ["last_received_at"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("dead_letter_tallies")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_dead_letters_fingerprint"), type_="unique")
        batch_op.drop_column("last_received_at")
        batch_op.drop_column("count")
        batch_op.drop_column("payload_size")
        batch_op.drop_column("fingerprint")
