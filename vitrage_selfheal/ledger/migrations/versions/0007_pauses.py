"""pauses: named pause requests, several per scope, each with who and why

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "pauses",
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("who", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "name"),
    )


def downgrade():
    op.drop_table("pauses")
