"""self-service: staff accounts linked to a person (their first password must be changed:
0013's must_change_password), requests, their steps, attachments, manual punches with
provenance

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.types import UtcDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "role IN ('unit_head', 'noi_vu', 'hr_clerk', 'admin', 'auditor')"
NEW_ROLES = "role IN ('unit_head', 'noi_vu', 'hr_clerk', 'admin', 'auditor', 'employee')"
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("employee_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_users_employee_id_employees"), "employees", ["employee_id"], ["id"]
        )
        batch_op.create_unique_constraint(batch_op.f("uq_users_employee_id"), ["employee_id"])
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint("role", NEW_ROLES)
    op.create_table(
        "attachments",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("sha256", name=op.f("uq_attachments_sha256")),
    )
    op.create_table(
        "staff_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("violation_id", sa.BigInteger(), nullable=True),
        sa.Column("reason_kind", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("punch_at", UtcDateTime(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=True),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.Column("sessions", sa.String(length=255), nullable=True),
        sa.Column("attachment_id", BigId, nullable=True),
        sa.Column("attachment_name", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("excuse_id", sa.Integer(), nullable=True),
        sa.Column("punch_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('explanation', 'missing_punch', 'leave', 'trip')",
            name=op.f("ck_staff_requests_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'refused', 'superseded')",
            name=op.f("ck_staff_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_staff_requests_attachment_id_attachments"),
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_staff_requests_employee_id_employees")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_staff_requests_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_requests")),
    )
    op.create_index(
        "ix_staff_requests_unit_status", "staff_requests", ["unit_id", "status"], unique=False
    )
    op.create_index(
        "ix_staff_requests_employee", "staff_requests", ["employee_id", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_staff_requests_violation_id"), "staff_requests", ["violation_id"], unique=False
    )
    op.create_table(
        "request_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("before", sa.String(length=16), nullable=True),
        sa.Column("after", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_events")),
    )
    op.create_index(
        op.f("ix_request_events_request_id"), "request_events", ["request_id"], unique=False
    )
    op.create_table(
        "manual_punches",
        sa.Column("punch_id", sa.BigInteger(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("punched_at", UtcDateTime(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("approved_by", sa.String(length=128), nullable=False),
        sa.Column("approved_at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_manual_punches_employee_id_employees")
        ),
        sa.PrimaryKeyConstraint("punch_id", name=op.f("pk_manual_punches")),
        sa.UniqueConstraint("request_id", name=op.f("uq_manual_punches_request_id")),
    )
    op.create_index(
        op.f("ix_manual_punches_employee_id"), "manual_punches", ["employee_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_manual_punches_employee_id"), table_name="manual_punches")
    op.drop_table("manual_punches")
    op.drop_index(op.f("ix_request_events_request_id"), table_name="request_events")
    op.drop_table("request_events")
    op.drop_index(op.f("ix_staff_requests_violation_id"), table_name="staff_requests")
    op.drop_index("ix_staff_requests_employee", table_name="staff_requests")
    op.drop_index("ix_staff_requests_unit_status", table_name="staff_requests")
    op.drop_table("staff_requests")
    op.drop_table("attachments")
    op.execute(
        "DELETE FROM user_events WHERE user_id IN (SELECT id FROM users WHERE role = 'employee')"
    )
    op.execute("DELETE FROM users WHERE role = 'employee'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint("role", OLD_ROLES)
        batch_op.drop_constraint(batch_op.f("uq_users_employee_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_users_employee_id_employees"), type_="foreignkey")
        batch_op.drop_column("employee_id")
