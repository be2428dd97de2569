"""ordered, replay-proof ingress: alarm event time, applied deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 14:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("unit_alarms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_at", sa.Float(), nullable=True))
    op.create_table(
        "deliveries",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_expires_at", ["expires_at"])


def downgrade():
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_expires_at")
    op.drop_table("deliveries")
    with op.batch_alter_table("unit_alarms", schema=None) as batch_op:
        batch_op.drop_column("event_at")
