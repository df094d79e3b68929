"""score decisions: a unit head's confirmation or adjustment of a monthly kỷ luật score

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.types import UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "score_decisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("suggested_score", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("flag", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "decision IN ('confirmed', 'adjusted')", name=op.f("ck_score_decisions_decision")
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_score_decisions_employee_id_employees"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_decisions")),
    )
    op.create_index(
        "ix_score_decisions_employee_month", "score_decisions", ["employee_id", "month"]
    )


def downgrade() -> None:
    op.drop_index("ix_score_decisions_employee_month", table_name="score_decisions")
    op.drop_table("score_decisions")
