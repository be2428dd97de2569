"""scaling: scale requests per group, a unit's birth by scale-out

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("born_at", sa.Float(), nullable=True))
    op.create_table(
        "scale_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("root_stack_id", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("parent_stack_id", sa.String(length=64), nullable=True),
        sa.Column("resource_name", sa.String(length=255), nullable=True),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("alarm_key", sa.String(length=300), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("wait_reason", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=True),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("open_slot", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_key", "open_slot",
                            name="uq_scale_open_group"),
    )
    with op.batch_alter_table("scale_requests", schema=None) as batch_op:
        batch_op.create_index("ix_scale_requests_root_stack_id",
                              ["root_stack_id"])
        batch_op.create_index("ix_scale_requests_group_key", ["group_key"])
        batch_op.create_index("ix_scale_requests_state", ["state"])


def downgrade():
    with op.batch_alter_table("scale_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_scale_requests_state")
        batch_op.drop_index("ix_scale_requests_group_key")
        batch_op.drop_index("ix_scale_requests_root_stack_id")
    op.drop_table("scale_requests")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("born_at")
