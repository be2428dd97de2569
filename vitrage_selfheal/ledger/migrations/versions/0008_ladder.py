"""escalation ladder: each heal's step, each unit's open sequence

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step", sa.String(length=16),
                                      nullable=False,
                                      server_default="replace"))
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remedy", sa.String(length=16),
                                      nullable=True))
        batch_op.add_column(sa.Column("remedy_at", sa.Float(),
                                      nullable=True))
        batch_op.add_column(sa.Column("remedy_times", sa.Text(),
                                      nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("remedy_times")
        batch_op.drop_column("remedy_at")
        batch_op.drop_column("remedy")
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.drop_column("step")
