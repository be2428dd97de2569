"""trusts: the Keystone trust each root stack's operations run under

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "trusts",
        sa.Column("root_stack_id", sa.String(length=64), nullable=False),
        sa.Column("trust_id", sa.String(length=64), nullable=False),
        sa.Column("trustor_user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("root_stack_id"),
    )


def downgrade():
    op.drop_table("trusts")
