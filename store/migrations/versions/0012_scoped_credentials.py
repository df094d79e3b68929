"""credentials scoped to a reader or a group of readers (enrolment numbers, face, fingerprint)

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-01 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_device_groups_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_device_groups_name")),
    )
    op.create_table(
        "device_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_group_members_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["device_groups.id"],
            name=op.f("fk_device_group_members_group_id_device_groups"),
        ),
        sa.PrimaryKeyConstraint("group_id", "device_id", name=op.f("pk_device_group_members")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_device_id_devices"), "devices", ["device_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_group_id_device_groups"),
            "device_groups",
            ["group_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            op.f("ck_credentials_one_scope"), "device_id IS NULL OR group_id IS NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_credentials_one_scope"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_credentials_group_id_device_groups"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_credentials_device_id_devices"), type_="foreignkey")
        batch_op.drop_column("group_id")
        batch_op.drop_column("device_id")
    op.drop_table("device_group_members")
    op.drop_table("device_groups")
