"""The ledger's tables. Alembic migrations in ledger/migrations mirror these.

`open_slot` columns hold 1 while a row is open and NULL once closed: a
unique constraint over (owner, open_slot) lets the database itself refuse a
second open intent for a unit or a second open batch for a stack, whatever
the locks did (NULLs never collide, on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy import orm

from vitrage_selfheal import limits

OPEN = 1


class Base(orm.DeclarativeBase):
    pass


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True,
                                            autoincrement=True)
    at: orm.Mapped[float] = orm.mapped_column(sa.Float, index=True)
    action: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    reason: orm.Mapped[str] = orm.mapped_column(sa.String(40), index=True)
    detail: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    unit_key: orm.Mapped[Optional[str]] = orm.mapped_column(
        sa.String(limits.UNIT_KEY), index=True)
    root_stack_id: orm.Mapped[Optional[str]] = orm.mapped_column(
        sa.String(limits.UNIT_ID), index=True)
    batch_id: orm.Mapped[Optional[str]] = orm.mapped_column(sa.String(64))
    source: orm.Mapped[str] = orm.mapped_column(sa.String(limits.SOURCE),
                                                default="")
    alarm_key: orm.Mapped[Optional[str]] = orm.mapped_column(
        sa.String(limits.ALARM_KEY))
    replica: orm.Mapped[str] = orm.mapped_column(sa.String(limits.REPLICA),
                                                 default="")


class UnitRow(Base):
    """What we know of a unit, and why it is held if it is."""

    __tablename__ = "units"

    unit_key: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.UNIT_KEY), primary_key=True)
    root_stack_id: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.UNIT_ID), index=True)
    stack_id: orm.Mapped[str] = orm.mapped_column(sa.String(limits.UNIT_ID))
    resource_name: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.RESOURCE_NAME))
    physical_id: orm.Mapped[Optional[str]] = orm.mapped_column(
        sa.String(limits.PHYSICAL_ID))
    group_key: orm.Mapped[str] = orm.mapped_column(sa.String(limits.GROUP),
                                                   index=True)
    group_size: orm.Mapped[Optional[int]] = orm.mapped_column(sa.Integer)
    held_reason: orm.Mapped[Optional[str]] = orm.mapped_column(sa.String(40))
    held_detail: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    held_until: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    last_healed_at: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    # Space-separated epoch seconds of recent heals, for flap damping.
    heal_times: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    # When a scale-out created it: its warm-up (unit_grace) starts here,
    # as a replacement's starts at last_healed_at.
    born_at: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    # The root stack's control words as last reported (model.Unit).
    controls: orm.Mapped[Optional[str]] = orm.mapped_column(
        sa.String(limits.CONTROLS))
    # The escalation ladder (decide/ladder.py): the last step ended in the
    # unit's open sequence (NULL: none open) and when; the end times of
    # recent steps, space-separated, for max_remediations_per_unit.
    remedy: orm.Mapped[Optional[str]] = orm.mapped_column(sa.String(16))
    remedy_at: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    remedy_times: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")


class AlarmRow(Base):
    """An alarm Vitrage raised on a unit; active until Vitrage clears it."""

    __tablename__ = "unit_alarms"

    unit_key: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.UNIT_KEY), primary_key=True)
    alarm_key: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.ALARM_KEY), primary_key=True)
    alarm_name: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.ALARM_NAME))
    intent: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    active: orm.Mapped[bool] = orm.mapped_column(sa.Boolean)
    since: orm.Mapped[float] = orm.mapped_column(sa.Float)
    cleared_at: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    # Bumped on every activation: (alarm, activation) names one incident.
    activations: orm.Mapped[int] = orm.mapped_column(sa.Integer, default=1)
    # Vitrage's time of the last event applied (activation or clear), when
    # the sender gave one: an older event is stale and never applied.
    event_at: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)


class IntentRow(Base):
    """A heal the pipeline accepted, persisted before any dispatch."""

    __tablename__ = "intents"
    __table_args__ = (sa.UniqueConstraint("unit_key", "open_slot",
                                          name="uq_intents_open_unit"),)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True,
                                            autoincrement=True)
    unit_key: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.UNIT_KEY), index=True)
    root_stack_id: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.UNIT_ID), index=True)
    incident: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.INCIDENT))
    state: orm.Mapped[str] = orm.mapped_column(sa.String(16), index=True)
    wait_reason: orm.Mapped[Optional[str]] = orm.mapped_column(sa.String(40))
    created_at: orm.Mapped[float] = orm.mapped_column(sa.Float)
    updated_at: orm.Mapped[float] = orm.mapped_column(sa.Float)
    batch_id: orm.Mapped[Optional[str]] = orm.mapped_column(sa.String(64))
    open_slot: orm.Mapped[Optional[int]] = orm.mapped_column(sa.Integer,
                                                             default=OPEN)
    # The ladder's step this heal takes (decide/ladder.py).
    step: orm.Mapped[str] = orm.mapped_column(sa.String(16),
                                              default="replace")


class BatchRow(Base):
    """One operation on one root stack (today: a heal of some of its
    units): its units, attempts and current execution."""

    __tablename__ = "batches"
    __table_args__ = (sa.UniqueConstraint("root_stack_id", "open_slot",
                                          name="uq_batches_open_stack"),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    root_stack_id: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.UNIT_ID), index=True)
    state: orm.Mapped[str] = orm.mapped_column(sa.String(16), index=True)
    attempt: orm.Mapped[int] = orm.mapped_column(sa.Integer, default=1)
    execution_id: orm.Mapped[str] = orm.mapped_column(sa.String(64),
                                                      unique=True)
    # JSON list of unit vertex ids; the units' rows hold the details.
    units: orm.Mapped[str] = orm.mapped_column(sa.Text)
    reason: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    created_at: orm.Mapped[float] = orm.mapped_column(sa.Float)
    dispatched_at: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    finished_at: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    next_try_at: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    output: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    # Who is starting the execution right now, and until when: a replica
    # that crashed mid-start lets its lease lapse.
    lease_owner: orm.Mapped[Optional[str]] = orm.mapped_column(
        sa.String(limits.REPLICA))
    lease_until: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    open_slot: orm.Mapped[Optional[int]] = orm.mapped_column(sa.Integer,
                                                             default=OPEN)
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(16), default="heal")
    # Why the next start waits (a Reason's value), so it is logged once.
    wait_reason: orm.Mapped[Optional[str]] = orm.mapped_column(sa.String(40))
    # A start of `execution_id` failed without a clear answer: Mistral may
    # have it, so the id (and the units) must not change before it is known.
    start_unconfirmed: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False)
    cancel_requested_at: orm.Mapped[Optional[float]] = orm.mapped_column(
        sa.Float)


class ScaleRow(Base):
    """A group's scale request: open while queued or in an operation; at
    most one open per group (votes merge into it)."""

    __tablename__ = "scale_requests"
    __table_args__ = (sa.UniqueConstraint("group_key", "open_slot",
                                          name="uq_scale_open_group"),)

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True,
                                            autoincrement=True)
    root_stack_id: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.UNIT_ID), index=True)
    # The group's nested stack (its units' stack_id).
    group_key: orm.Mapped[str] = orm.mapped_column(sa.String(limits.GROUP),
                                                   index=True)
    parent_stack_id: orm.Mapped[Optional[str]] = orm.mapped_column(
        sa.String(limits.UNIT_ID))
    resource_name: orm.Mapped[Optional[str]] = orm.mapped_column(
        sa.String(limits.RESOURCE_NAME))
    delta: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    source: orm.Mapped[str] = orm.mapped_column(sa.String(limits.SOURCE),
                                                default="")
    alarm_key: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.ALARM_KEY), default="")
    manual: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, default=False)
    # PENDING, BATCHED, DONE, FAILED, CANCELLED (as intents)
    state: orm.Mapped[str] = orm.mapped_column(sa.String(16), index=True)
    wait_reason: orm.Mapped[Optional[str]] = orm.mapped_column(sa.String(40))
    created_at: orm.Mapped[float] = orm.mapped_column(sa.Float)
    updated_at: orm.Mapped[float] = orm.mapped_column(sa.Float)
    batch_id: orm.Mapped[Optional[str]] = orm.mapped_column(sa.String(64))
    # What the operation is to reach, fixed when it forms (JSON: method,
    # size_before, target, parameter/policy, victims).
    plan: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    open_slot: orm.Mapped[Optional[int]] = orm.mapped_column(sa.Integer,
                                                             default=OPEN)


class AttemptRow(Base):
    """One try of an operation: a start call and what became of it."""

    __tablename__ = "attempts"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True,
                                            autoincrement=True)
    batch_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), index=True)
    attempt: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    execution_id: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    started_at: orm.Mapped[float] = orm.mapped_column(sa.Float, index=True)
    finished_at: orm.Mapped[Optional[float]] = orm.mapped_column(sa.Float)
    # STARTED, START_FAILED, SUCCESS, FAILED, STUCK, LOST
    outcome: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    detail: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")


class HoldRow(Base):
    """Operator kill switches and circuit breakers, global or per stack."""

    __tablename__ = "holds"

    scope: orm.Mapped[str] = orm.mapped_column(sa.String(80),
                                               primary_key=True)
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(16),
                                              primary_key=True)
    reason: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    since: orm.Mapped[float] = orm.mapped_column(sa.Float)


class PauseRow(Base):
    """A named pause request (medik8s pauseRequests): heals of the scope
    wait while any is there; each is lifted on its own."""

    __tablename__ = "pauses"

    scope: orm.Mapped[str] = orm.mapped_column(sa.String(80),
                                               primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(64),
                                              primary_key=True)
    who: orm.Mapped[str] = orm.mapped_column(sa.String(64), default="")
    reason: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    since: orm.Mapped[float] = orm.mapped_column(sa.Float)


class TrustRow(Base):
    """The Keystone trust a root stack's heals and scales run under: its
    owner delegated to our service user once. Only ids: a trust is useless
    without the trustee's own credentials, which never reach the ledger."""

    __tablename__ = "trusts"

    root_stack_id: orm.Mapped[str] = orm.mapped_column(
        sa.String(limits.UNIT_ID), primary_key=True)
    trust_id: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    trustor_user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    created_at: orm.Mapped[float] = orm.mapped_column(sa.Float)


class CounterRow(Base):
    __tablename__ = "counters"

    name: orm.Mapped[str] = orm.mapped_column(sa.String(80),
                                              primary_key=True)
    value: orm.Mapped[int] = orm.mapped_column(sa.Integer, default=0)


class DeliveryRow(Base):
    """Signed deliveries already applied, kept while their signature could
    still be accepted: a replay of one is recognised, also after a restart.
    """

    __tablename__ = "deliveries"

    # The request's signature (hex HMAC-SHA256): unique per body and time.
    digest: orm.Mapped[str] = orm.mapped_column(sa.String(64),
                                                primary_key=True)
    seen_at: orm.Mapped[float] = orm.mapped_column(sa.Float)
    expires_at: orm.Mapped[float] = orm.mapped_column(sa.Float, index=True)
