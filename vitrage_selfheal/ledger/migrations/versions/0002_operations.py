"""stack operations: kind, wait reason, unconfirmed starts, cancels, attempts

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 08:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16),
                                      nullable=False, server_default="heal"))
        batch_op.add_column(sa.Column("wait_reason", sa.String(length=40),
                                      nullable=True))
        batch_op.add_column(sa.Column("start_unconfirmed", sa.Boolean(),
                                      nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("cancel_requested_at", sa.Float(),
                                      nullable=True))
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_batch_id", ["batch_id"])
        batch_op.create_index("ix_attempts_started_at", ["started_at"])


def downgrade():
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_started_at")
        batch_op.drop_index("ix_attempts_batch_id")
    op.drop_table("attempts")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("cancel_requested_at")
        batch_op.drop_column("start_unconfirmed")
        batch_op.drop_column("wait_reason")
        batch_op.drop_column("kind")
