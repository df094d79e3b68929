"""api: users, review state, excused columns

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:56:40.742769
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('unit_head', 'noi_vu', 'hr_clerk', 'admin', 'auditor')",
            name=op.f("ck_users_role"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_users_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_users_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "review_state",
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason_kind", sa.String(length=32), nullable=True),
        sa.Column("review_id", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_review_state_employee_id_employees")
        ),
        sa.PrimaryKeyConstraint(
            "employee_id", "day", "session", "kind", name=op.f("pk_review_state")
        ),
    )
    with op.batch_alter_table("day_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("excused_kind", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("excused_fraction", sa.Float(), nullable=False, server_default="0")
        )

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_decision", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("previous_decision")

    with op.batch_alter_table("day_records", schema=None) as batch_op:
        batch_op.drop_column("excused_fraction")
        batch_op.drop_column("excused_kind")

    op.drop_table("review_state")
    op.drop_table("users")
