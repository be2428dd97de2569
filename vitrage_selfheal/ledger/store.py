"""The ledger: every decision, alarm, intent and batch, behind one URL.

`Ledger.transaction()` yields a `LedgerTx` whose methods are the only way
the rest of the package reads or writes the database.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
from collections.abc import Iterator
from typing import Optional

import sqlalchemy as sa
from sqlalchemy import exc, orm

from vitrage_selfheal import limits
from vitrage_selfheal.ledger.ingress import AlreadyRecorded, IngressTx
from vitrage_selfheal.ledger.models import (
    OPEN,
    AlarmRow,
    AttemptRow,
    BatchRow,
    CounterRow,
    DecisionRow,
    HoldRow,
    IntentRow,
    UnitRow,
)
from vitrage_selfheal.model import (  # noqa: F401 - the ledger's names
    GLOBAL_SCOPE,
    BatchState,
    Decision,
    HealRequest,
    HoldKind,
    Intent,
    IntentState,
    Unit,
    stack_scope,
)


def _sqlite_file(url: str) -> Optional[pathlib.Path]:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (
            None, "", ":memory:"):
        return pathlib.Path(parsed.database)
    return None


class Ledger:
    def __init__(self, url: str) -> None:
        self.url = url
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict = {"future": True}
        if url.startswith("sqlite"):
            # Several replicas on one host share the file: wait, not fail.
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = orm.sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        from vitrage_selfheal.ledger import migrate
        migrate.upgrade(self.engine)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[LedgerTx]:
        with self._sessions.begin() as session:
            yield LedgerTx(session)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class LedgerTx(IngressTx):
    def __init__(self, session: orm.Session) -> None:
        self.s = session

    # -- decisions and counters -------------------------------------------
    def record(self, decision: Decision, at: float, source: str = "",
               alarm_key: Optional[str] = None, replica: str = "") -> None:
        # Details quote what was refused: the one thing here that can hold
        # a NUL or a lone surrogate, and a row refused for it is lost.
        self.s.add(DecisionRow(
            at=at, action=decision.action.value,
            reason=decision.reason.value,
            detail=limits.storable(decision.detail),
            unit_key=decision.unit_key, root_stack_id=decision.root_stack_id,
            batch_id=decision.batch_id, source=source, alarm_key=alarm_key,
            replica=replica))

    def count(self, name: str, by: int = 1) -> None:
        """`value = value + by` in the database: two replicas counting at
        once both count, and a lost insert race cannot fail the decision's
        transaction (the insert runs in a savepoint)."""
        if self._bump(name, by):
            return
        try:
            with self.s.begin_nested():
                self.s.execute(sa.insert(CounterRow).values(name=name,
                                                            value=by))
        except exc.IntegrityError:
            self._bump(name, by)

    def _bump(self, name: str, by: int) -> bool:
        done = self.s.execute(
            sa.update(CounterRow).where(CounterRow.name == name)
            .values(value=CounterRow.value + by)
            .execution_options(synchronize_session=False))
        return done.rowcount == 1

    def counters(self) -> dict[str, int]:
        return {r.name: r.value for r in self.s.scalars(sa.select(CounterRow))}

    def decisions(self, stack: Optional[str] = None,
                  unit: Optional[str] = None, reason: Optional[str] = None,
                  limit: int = 200) -> list[DecisionRow]:
        q = sa.select(DecisionRow).order_by(DecisionRow.id.desc())
        if stack:
            q = q.where(DecisionRow.root_stack_id == stack)
        if unit:
            q = q.where(DecisionRow.unit_key.contains(unit))
        if reason:
            q = q.where(DecisionRow.reason == reason.upper())
        return list(reversed(self.s.scalars(q.limit(limit)).all()))

    # -- units ---------------------------------------------------------------
    def upsert_unit(self, unit: Unit) -> UnitRow:
        row = self.s.get(UnitRow, unit.key)
        if row is None:
            row = UnitRow(unit_key=unit.key, root_stack_id=unit.root_stack_id,
                          stack_id=unit.stack_id,
                          resource_name=unit.resource_name,
                          group_key=unit.group_key, held_detail="",
                          heal_times="")
            try:
                with self.s.begin_nested():
                    self.s.add(row)
            except exc.IntegrityError:
                # Another replica (no lock backend) inserted it first.
                row = self.s.get(UnitRow, unit.key, populate_existing=True)
                if row is None:
                    raise
        # Newer notifications know the replacement's physical id and size.
        if unit.physical_id:
            row.physical_id = unit.physical_id
        if unit.group_size:
            row.group_size = unit.group_size
        if unit.group:
            row.group_key = unit.group
        return row

    def unit(self, unit_key: str) -> Optional[UnitRow]:
        return self.s.get(UnitRow, unit_key)

    def units(self, *keys: str) -> list[UnitRow]:
        q = sa.select(UnitRow).order_by(UnitRow.unit_key)
        if keys:
            q = q.where(UnitRow.unit_key.in_(keys))
        return list(self.s.scalars(q))

    def held_units(self) -> list[UnitRow]:
        return list(self.s.scalars(sa.select(UnitRow).where(
            UnitRow.held_reason.is_not(None)).order_by(UnitRow.unit_key)))

    def hold_unit(self, unit_key: str, decision: Decision) -> None:
        """Apply a HOLD: the unit is reconsidered on every tick."""
        row = self.s.get(UnitRow, unit_key)
        row.held_reason = decision.reason.value
        row.held_detail = decision.detail
        row.held_until = decision.until

    def release_unit(self, unit_key: str) -> None:
        row = self.s.get(UnitRow, unit_key)
        row.held_reason, row.held_detail, row.held_until = None, "", None

    def mark_healed(self, unit_key: str, now: float,
                    physical_id: Optional[str]) -> None:
        row = self.s.get(UnitRow, unit_key)
        row.last_healed_at = now
        row.heal_times = f"{row.heal_times} {now:.3f}".strip()
        if physical_id:
            row.physical_id = physical_id

    def unhealthy_in_group(self, group_key: str) -> list[str]:
        healed = sa.func.coalesce(UnitRow.last_healed_at, -1.0)
        q = (sa.select(AlarmRow.unit_key).distinct()
             .join(UnitRow, UnitRow.unit_key == AlarmRow.unit_key)
             .where(UnitRow.group_key == group_key,
                    AlarmRow.active.is_(True),
                    AlarmRow.intent == Intent.HEAL.value,
                    AlarmRow.since > healed))
        return sorted(self.s.scalars(q))

    # -- intents -------------------------------------------------------------
    def open_intent(self, unit_key: str) -> Optional[IntentRow]:
        return self.s.scalar(sa.select(IntentRow).where(
            IntentRow.unit_key == unit_key, IntentRow.open_slot == OPEN))

    def add_intent(self, unit: Unit, incident: str, now: float) -> IntentRow:
        row = IntentRow(unit_key=unit.key, root_stack_id=unit.root_stack_id,
                        incident=incident, state=IntentState.PENDING,
                        created_at=now, updated_at=now, open_slot=OPEN)
        self.s.add(row)
        try:
            self.s.flush()
        except exc.IntegrityError:
            raise AlreadyRecorded(unit.key) from None
        return row

    def close_intent(self, row: IntentRow, state: str, now: float) -> None:
        row.state, row.updated_at, row.open_slot = state, now, None

    def pending_intents(self) -> list[IntentRow]:
        return list(self.s.scalars(sa.select(IntentRow).where(
            IntentRow.state == IntentState.PENDING).order_by(IntentRow.id)))

    def batch_intents(self, batch_id: str) -> list[IntentRow]:
        return list(self.s.scalars(sa.select(IntentRow).where(
            IntentRow.batch_id == batch_id).order_by(IntentRow.unit_key)))

    def in_flight(self) -> list[IntentRow]:
        return list(self.s.scalars(sa.select(IntentRow).where(
            IntentRow.open_slot == OPEN).order_by(IntentRow.id)))

    # -- batches -------------------------------------------------------------
    def batch(self, batch_id: Optional[str]) -> Optional[BatchRow]:
        return self.s.get(BatchRow, batch_id) if batch_id else None

    def open_batch(self, root_stack_id: str) -> Optional[BatchRow]:
        return self.s.scalar(sa.select(BatchRow).where(
            BatchRow.root_stack_id == root_stack_id,
            BatchRow.open_slot == OPEN))

    def open_batches(self) -> list[BatchRow]:
        return list(self.s.scalars(sa.select(BatchRow).where(
            BatchRow.open_slot == OPEN).order_by(BatchRow.created_at)))

    def add_batch(self, batch: BatchRow, intents: list[IntentRow]) -> None:
        self.s.add(batch)
        for intent in intents:
            intent.state, intent.batch_id = IntentState.BATCHED, batch.id
            intent.updated_at = batch.created_at
        try:
            self.s.flush()
        except exc.IntegrityError:
            raise AlreadyRecorded(batch.root_stack_id) from None

    def claim_batch(self, batch_id: str, state: str, owner: str,
                    now: float, lease: float) -> bool:
        """Take the right to start this batch; False if a live lease of
        another replica holds it, or its state moved on."""
        done = self.s.execute(
            sa.update(BatchRow)
            .where(BatchRow.id == batch_id, BatchRow.state == state,
                   sa.or_(BatchRow.lease_until.is_(None),
                          BatchRow.lease_until < now,
                          BatchRow.lease_owner == owner))
            .values(lease_owner=owner, lease_until=now + lease)
            .execution_options(synchronize_session=False))
        return done.rowcount == 1

    def move_batch(self, batch_id: str, from_state: str,
                   **values: object) -> Optional[BatchRow]:
        """Compare-and-set on the batch state: the row, or None if another
        replica moved it first."""
        done = self.s.execute(
            sa.update(BatchRow)
            .where(BatchRow.id == batch_id, BatchRow.state == from_state)
            .values(**values)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            return None
        return self.s.get(BatchRow, batch_id, populate_existing=True)

    def set_batch_units(self, batch: BatchRow,
                        vertex_ids: list[str]) -> None:
        batch.units = json.dumps(sorted(vertex_ids))

    # -- attempts ------------------------------------------------------------
    def add_attempt(self, batch: BatchRow, now: float) -> AttemptRow:
        row = AttemptRow(batch_id=batch.id, attempt=batch.attempt,
                         execution_id=batch.execution_id, started_at=now,
                         outcome=AttemptOutcome.STARTED, detail="")
        self.s.add(row)
        return row

    def finish_attempt(self, batch: BatchRow, outcome: str, now: float,
                       detail: str = "") -> None:
        row = self.s.scalar(sa.select(AttemptRow).where(
            AttemptRow.batch_id == batch.id,
            AttemptRow.execution_id == batch.execution_id,
            AttemptRow.finished_at.is_(None)).order_by(
            AttemptRow.id.desc()).limit(1))
        if row is not None:
            row.outcome, row.finished_at, row.detail = outcome, now, detail

    def attempts(self, batch_id: str) -> list[AttemptRow]:
        return list(self.s.scalars(sa.select(AttemptRow).where(
            AttemptRow.batch_id == batch_id).order_by(AttemptRow.id)))

    def starts_since(self, since: float) -> int:
        return self.s.scalar(sa.select(sa.func.count()).select_from(
            AttemptRow).where(AttemptRow.started_at >= since)) or 0

    # -- holds ---------------------------------------------------------------
    def holds(self) -> list[HoldRow]:
        return list(self.s.scalars(sa.select(HoldRow).order_by(
            HoldRow.scope)))

    def hold_for(self, root_stack_id: str) -> Optional[HoldRow]:
        """The hold that stops heals of this stack, operator holds first."""
        rows = self.s.scalars(sa.select(HoldRow).where(HoldRow.scope.in_(
            (GLOBAL_SCOPE, stack_scope(root_stack_id)))))
        ordered = sorted(rows, key=lambda r: (r.kind != HoldKind.OPERATOR,
                                              r.scope != GLOBAL_SCOPE))
        return ordered[0] if ordered else None

    def set_hold(self, scope: str, kind: str, reason: str,
                 now: float) -> None:
        row = self.s.get(HoldRow, (scope, kind))
        if row is None:
            self.s.add(HoldRow(scope=scope, kind=kind, reason=reason,
                               since=now))
        else:
            row.reason = reason

    def remove_holds(self, scope: str) -> int:
        rows = list(self.s.scalars(sa.select(HoldRow).where(
            HoldRow.scope == scope)))
        for row in rows:
            self.s.delete(row)
        return len(rows)


class AttemptOutcome:
    STARTED = "STARTED"
    START_FAILED = "START_FAILED"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STUCK = "STUCK"
    LOST = "LOST"


def batch_units(batch: BatchRow) -> list[str]:
    return json.loads(batch.units)


def is_poison(error: BaseException) -> bool:
    """True if the database refused the values themselves (too long, a NUL,
    a lone surrogate): retrying the same request can never succeed. False
    for everything else (connection lost, server down), which may pass."""
    if isinstance(error, exc.DataError):
        return True
    if isinstance(error, exc.StatementError) and \
            not isinstance(error, exc.DBAPIError):
        return isinstance(error.orig, (ValueError, UnicodeError))
    # psycopg2 refuses a NUL with a bare ValueError, unwrapped. (A
    # ValueError from a bug of ours is as deterministic: retrying it every
    # tick would loop forever too.)
    return isinstance(error, (ValueError, UnicodeError))
