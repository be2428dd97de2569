"""initial ledger

Revision ID: 0001
Revises:
Create Date: 2026-11-25 18:37:39.861656
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("root_stack_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.String(length=64), nullable=False),
        sa.Column("units", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("dispatched_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("next_try_at", sa.Float(), nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("open_slot", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("execution_id"),
        sa.UniqueConstraint(
            "root_stack_id", "open_slot", name="uq_batches_open_stack"
        ),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_batches_root_stack_id"),
            ["root_stack_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_batches_state"), ["state"], unique=False
        )

    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("unit_key", sa.String(length=300), nullable=True),
        sa.Column("root_stack_id", sa.String(length=64), nullable=True),
        sa.Column("batch_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("alarm_key", sa.String(length=300), nullable=True),
        sa.Column("replica", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decisions_at"), ["at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_decisions_reason"), ["reason"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_decisions_root_stack_id"),
            ["root_stack_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_decisions_unit_key"), ["unit_key"], unique=False
        )

    op.create_table(
        "holds",
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "kind"),
    )
    op.create_table(
        "intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_key", sa.String(length=300), nullable=False),
        sa.Column("root_stack_id", sa.String(length=64), nullable=False),
        sa.Column("incident", sa.String(length=320), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("wait_reason", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=True),
        sa.Column("open_slot", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "unit_key", "open_slot", name="uq_intents_open_unit"
        ),
    )
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intents_root_stack_id"),
            ["root_stack_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_intents_state"), ["state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_intents_unit_key"), ["unit_key"], unique=False
        )

    op.create_table(
        "unit_alarms",
        sa.Column("unit_key", sa.String(length=300), nullable=False),
        sa.Column("alarm_key", sa.String(length=300), nullable=False),
        sa.Column("alarm_name", sa.String(length=255), nullable=False),
        sa.Column("intent", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("cleared_at", sa.Float(), nullable=True),
        sa.Column("activations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit_key", "alarm_key"),
    )
    op.create_table(
        "units",
        sa.Column("unit_key", sa.String(length=300), nullable=False),
        sa.Column("root_stack_id", sa.String(length=64), nullable=False),
        sa.Column("stack_id", sa.String(length=64), nullable=False),
        sa.Column("resource_name", sa.String(length=255), nullable=False),
        sa.Column("physical_id", sa.String(length=64), nullable=True),
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=True),
        sa.Column("held_reason", sa.String(length=40), nullable=True),
        sa.Column("held_detail", sa.Text(), nullable=False),
        sa.Column("held_until", sa.Float(), nullable=True),
        sa.Column("last_healed_at", sa.Float(), nullable=True),
        sa.Column("heal_times", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("unit_key"),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_units_group_key"), ["group_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_units_root_stack_id"),
            ["root_stack_id"],
            unique=False,
        )


def downgrade():

    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_root_stack_id"))
        batch_op.drop_index(batch_op.f("ix_units_group_key"))

    op.drop_table("units")
    op.drop_table("unit_alarms")
    with op.batch_alter_table("intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intents_unit_key"))
        batch_op.drop_index(batch_op.f("ix_intents_state"))
        batch_op.drop_index(batch_op.f("ix_intents_root_stack_id"))

    op.drop_table("intents")
    op.drop_table("holds")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_unit_key"))
        batch_op.drop_index(batch_op.f("ix_decisions_root_stack_id"))
        batch_op.drop_index(batch_op.f("ix_decisions_reason"))
        batch_op.drop_index(batch_op.f("ix_decisions_at"))

    op.drop_table("decisions")
    op.drop_table("counters")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_state"))
        batch_op.drop_index(batch_op.f("ix_batches_root_stack_id"))

    op.drop_table("batches")
