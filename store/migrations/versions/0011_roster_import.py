"""roster import: an agency's card format, uploads kept between preview and apply

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.types import UtcDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_digits", sa.Integer(), nullable=True))
    op.create_table(
        "import_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_import_uploads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_uploads")),
        sa.UniqueConstraint("user_id", "sha256", name=op.f("uq_import_uploads_user_id")),
    )
    op.create_index(
        op.f("ix_import_uploads_created_at"), "import_uploads", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_import_uploads_created_at"), table_name="import_uploads")
    op.drop_table("import_uploads")
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("card_digits")
