"""rules: schedules, policies, calendar, excuses, day records, violations, reviews, queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:38:52.388089
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.types import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "discipline_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discipline_policies")),
        sa.UniqueConstraint("code", name=op.f("uq_discipline_policies_code")),
    )
    op.create_table(
        "recompute_queue",
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("enqueued_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("employee_id", "day", name=op.f("pk_recompute_queue")),
    )
    op.create_table(
        "scheduler_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_scheduler_state")),
    )
    op.create_table(
        "work_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_schedules")),
        sa.UniqueConstraint("code", name=op.f("uq_work_schedules_code")),
    )
    op.create_table(
        "calendar_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.CheckConstraint(
            "kind IN ('off', 'work', 'not_off')", name=op.f("ck_calendar_days_kind")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_calendar_days_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_days")),
        sa.UniqueConstraint("agency_id", "day", name="uq_calendar_days_agency_day"),
    )
    op.create_table(
        "day_records",
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("first_in", UtcDateTime(), nullable=True),
        sa.Column("last_out", UtcDateTime(), nullable=True),
        sa.Column("worked_minutes", sa.Integer(), nullable=False),
        sa.Column("excused", sa.String(length=255), nullable=True),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("computed_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_day_records_employee_id_employees")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_day_records_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("employee_id", "day", name=op.f("pk_day_records")),
    )
    with op.batch_alter_table("day_records", schema=None) as batch_op:
        batch_op.create_index("ix_day_records_unit_day", ["unit_id", "day"], unique=False)

    op.create_table(
        "excuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("sessions", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'cancelled')", name=op.f("ck_excuses_status")
        ),
        sa.CheckConstraint("last_day >= first_day", name=op.f("ck_excuses_period")),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_excuses_employee_id_employees")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_excuses")),
    )
    with op.batch_alter_table("excuses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_excuses_employee_days", ["employee_id", "first_day", "last_day"], unique=False
        )

    op.create_table(
        "reviews",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason_kind", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "decision IN ('confirmed', 'excused', 'dismissed')", name=op.f("ck_reviews_decision")
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_reviews_employee_id_employees")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reviews_identity", ["employee_id", "day", "session", "kind"], unique=False
        )

    op.create_table(
        "violations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("session", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("pending_excuse_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("detected_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_violations_employee_id_employees")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_violations_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_violations")),
        sa.UniqueConstraint("employee_id", "day", "session", "kind", name="uq_violations_identity"),
    )
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.create_index("ix_violations_day_kind", ["day", "kind"], unique=False)
        batch_op.create_index("ix_violations_unit_day", ["unit_id", "day"], unique=False)

    op.create_table(
        "violation_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "violation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=True),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["violation_id"],
            ["violations.id"],
            name=op.f("fk_violation_events_violation_id_violations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_violation_events")),
    )
    with op.batch_alter_table("violation_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_violation_events_violation_id"), ["violation_id"], unique=False
        )

    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("policy_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_agencies_schedule_id_work_schedules"),
            "work_schedules",
            ["schedule_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_agencies_policy_id_discipline_policies"),
            "discipline_policies",
            ["policy_id"],
            ["id"],
        )

    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_employees_schedule_id_work_schedules"),
            "work_schedules",
            ["schedule_id"],
            ["id"],
        )

    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("policy_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_units_schedule_id_work_schedules"),
            "work_schedules",
            ["schedule_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_units_policy_id_discipline_policies"),
            "discipline_policies",
            ["policy_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_units_policy_id_discipline_policies"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_units_schedule_id_work_schedules"), type_="foreignkey"
        )
        batch_op.drop_column("policy_id")
        batch_op.drop_column("schedule_id")

    with op.batch_alter_table("employees", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_employees_schedule_id_work_schedules"), type_="foreignkey"
        )
        batch_op.drop_column("schedule_id")

    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_agencies_policy_id_discipline_policies"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_agencies_schedule_id_work_schedules"), type_="foreignkey"
        )
        batch_op.drop_column("policy_id")
        batch_op.drop_column("schedule_id")

    with op.batch_alter_table("violation_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_violation_events_violation_id"))

    op.drop_table("violation_events")
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.drop_index("ix_violations_unit_day")
        batch_op.drop_index("ix_violations_day_kind")

    op.drop_table("violations")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_identity")

    op.drop_table("reviews")
    with op.batch_alter_table("excuses", schema=None) as batch_op:
        batch_op.drop_index("ix_excuses_employee_days")

    op.drop_table("excuses")
    with op.batch_alter_table("day_records", schema=None) as batch_op:
        batch_op.drop_index("ix_day_records_unit_day")

    op.drop_table("day_records")
    op.drop_table("calendar_days")
    op.drop_table("work_schedules")
    op.drop_table("scheduler_state")
    op.drop_table("recompute_queue")
    op.drop_table("discipline_policies")
