"""The ledger: every decision, alarm, intent and batch, behind one URL.

`Ledger.transaction()` yields a `LedgerTx` whose methods are the only way
the rest of the package reads or writes the database.
"""

from __future__ import annotations

import contextlib
import pathlib
import weakref
from collections.abc import Iterator
from typing import Optional

import sqlalchemy as sa
from sqlalchemy import exc, orm

from vitrage_selfheal import limits
from vitrage_selfheal.ledger import checkpoint, prefetch
from vitrage_selfheal.ledger.batches import (  # noqa: F401 - re-exported
    AttemptOutcome,
    BatchTx,
    batch_units,
)
from vitrage_selfheal.ledger.holds import HoldsTx
from vitrage_selfheal.ledger.ingress import AlreadyRecorded, IngressTx
from vitrage_selfheal.ledger.models import (
    OPEN,
    AlarmRow,
    CounterRow,
    DecisionRow,
    HoldRow,
    IntentRow,
    UnitRow,
)
from vitrage_selfheal.ledger.scales import ScaleTx
from vitrage_selfheal.ledger.upsert import Writer, adopt, update, writer
from vitrage_selfheal.model import (  # noqa: F401 - the ledger's names
    GLOBAL_SCOPE,
    Action,
    BatchState,
    Decision,
    HealRequest,
    HoldKind,
    Intent,
    IntentState,
    Reason,
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
        self._writer = writer(self.engine.dialect.name)
        self._release = None
        if path is not None:
            # WAL checkpoints in a thread of their own (see checkpoint.py),
            # for as long as this ledger lives.
            checkpoint.register(path)
            self._release = weakref.finalize(self, checkpoint.unregister,
                                             path)

    def upgrade(self) -> None:
        from vitrage_selfheal.ledger import migrate
        migrate.upgrade(self.engine)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[LedgerTx]:
        with self._sessions.begin() as session:
            yield LedgerTx(session, self._writer)

    def dispose(self) -> None:
        if self._release is not None:
            self._release()
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Checkpoints are checkpoint.py's; a commit runs one only past this.
    cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoint.BACKSTOP_PAGES}")
    cursor.close()


# The statements every decision runs, built once (see upsert.py).
_OPEN_INTENT = sa.select(IntentRow).where(
    IntentRow.unit_key == sa.bindparam("unit_key"),
    IntentRow.open_slot == OPEN)
# Step end times older than this are dropped (a budget's window is at
# most a day in any sane configuration; the column stays short).
REMEDY_TIMES_KEPT = 86400.0

_UNHEALTHY_IN_GROUP = (
    sa.select(AlarmRow.unit_key).distinct()
    .join(UnitRow, UnitRow.unit_key == AlarmRow.unit_key)
    .where(UnitRow.group_key == sa.bindparam("group_key"),
           AlarmRow.active.is_(True),
           AlarmRow.intent == Intent.HEAL.value,
           AlarmRow.since > sa.func.coalesce(UnitRow.last_healed_at, -1.0)))


class LedgerTx(IngressTx, BatchTx, ScaleTx, HoldsTx):
    def __init__(self, session: orm.Session,
                 writer_: Optional[Writer] = None) -> None:
        self.s = session
        self.writer = writer_ or writer(session.get_bind().dialect.name)
        self._alarm_cache = {}
        # unit_key -> its open intent as of loading, kept by add_intent;
        # a row closed since reads as none (see open_intent).
        self._intent_cache: dict[str, Optional[IntentRow]] = {}
        # root_stack_id -> the hold that stops it; asked twice per request
        # (operator hold, breaker), changed only by set_hold/remove_holds.
        self._hold_cache: dict[str, Optional[HoldRow]] = {}

    # -- decisions and counters -------------------------------------------
    def last_admitted(self, unit_key: str) -> Optional[str]:
        return self.s.scalar(
            sa.select(DecisionRow.reason)
            .where(DecisionRow.unit_key == unit_key,
                   DecisionRow.action == Action.ACCEPT.value,
                   DecisionRow.reason.in_((Reason.FIRST_HEAL.value,
                                           Reason.STARTUP_TIMEOUT.value)))
            .order_by(DecisionRow.id.desc()).limit(1))

    def record(self, decision: Decision, at: float, source: str = "",
               alarm_key: Optional[str] = None, replica: str = "",
               counted: Optional[str] = None) -> None:
        """Store a decision; with `counted`, count(counted) as well."""
        # Details quote what was refused: the one thing here that can hold
        # a NUL or a lone surrogate, and a row refused for it is lost.
        # Nothing reads the row back in this transaction: a Core insert,
        # without the unit of work's bookkeeping.
        values = dict(
            at=at, action=decision.action.value,
            reason=decision.reason.value,
            detail=limits.storable(decision.detail),
            unit_key=decision.unit_key, root_stack_id=decision.root_stack_id,
            batch_id=decision.batch_id, source=source, alarm_key=alarm_key,
            replica=replica)
        table = DecisionRow.__table__
        if counted is None:
            self.writer.insert(self.s, table, values)
        else:
            self.writer.insert_counted(self.s, table, values, counted)

    def count(self, name: str, by: int = 1) -> None:
        """`value = value + by` in the database: two replicas counting at
        once both count, and a lost insert race cannot fail the decision's
        transaction."""
        self.writer.add_to_counter(self.s, name, by)

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
        values = dict(unit_key=unit.key, root_stack_id=unit.root_stack_id,
                      stack_id=unit.stack_id,
                      resource_name=unit.resource_name,
                      physical_id=unit.physical_id, group_key=unit.group_key,
                      group_size=unit.group_size, held_reason=None,
                      held_detail="", held_until=None, last_healed_at=None,
                      heal_times="", born_at=None, controls=unit.controls,
                      remedy=None, remedy_at=None, remedy_times="")
        row, inserted = self._load_unit(unit.key, unit.root_stack_id, values)
        if inserted:
            return adopt(self.s, UnitRow, values)
        if row is None:
            if self.writer.insert_new(self.s, UnitRow.__table__, values):
                return adopt(self.s, UnitRow, values)
            # Another replica (no lock backend) inserted it first.
            row = self.s.get(UnitRow, unit.key, populate_existing=True)
            if row is None:
                raise AlreadyRecorded(unit.key)
        # Newer notifications know the replacement's physical id and size.
        known = {"physical_id": unit.physical_id,
                 "group_size": unit.group_size, "group_key": unit.group}
        changed = {k: v for k, v in known.items() if v}
        if unit.controls is not None:
            # "" is news too: the stack's tags were removed.
            changed["controls"] = unit.controls
        update(self.s, row, changed)
        return row

    def _load_unit(self, key: str, root: str, new: dict
                   ) -> tuple[Optional[UnitRow], bool]:
        """The unit's row, its alarms, open intent and holds prefetched
        (see prefetch.py), and whether `new` was inserted on the way."""
        if key in self._intent_cache:
            # Loaded in this transaction.
            return self.s.get(UnitRow, key), False
        self.s.flush()    # the query reads the database, not the session
        rows, inserted = prefetch.load(self.s, key, stack_scope(root), new)
        loaded: dict[str, dict] = {}
        for values in rows:
            for prefix, cls in prefetch.PREFETCHED:
                row = prefetch.columns(values, prefix, cls)
                if row is not None:
                    # A row of the session wins over what the query read.
                    found = adopt(self.s, cls, row)
                    loaded.setdefault(prefix, {})[id(found)] = found
        alarms = loaded.get("a", {}).values()
        self._alarm_cache.setdefault(key, {a.alarm_key: a for a in alarms})
        self._intent_cache[key] = next(iter(loaded.get("i", {}).values()),
                                       None)
        if not rows[0]["held"]:
            self._hold_cache.setdefault(root, None)
        return next(iter(loaded.get("u", {}).values()), None), inserted

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
        update(self.s, self.s.get(UnitRow, unit_key), {
            "held_reason": decision.reason.value,
            "held_detail": decision.detail, "held_until": decision.until})

    def release_unit(self, unit_key: str) -> None:
        update(self.s, self.s.get(UnitRow, unit_key), {
            "held_reason": None, "held_detail": "", "held_until": None})

    def mark_healed(self, unit_key: str, now: float,
                    physical_id: Optional[str]) -> None:
        """Replaced: the last step of any ladder, so its sequence ends."""
        row = self.s.get(UnitRow, unit_key)
        row.last_healed_at = now
        row.heal_times = f"{row.heal_times} {now:.3f}".strip()
        self.step_ended(unit_key, None, now)
        if physical_id:
            row.physical_id = physical_id

    def step_ended(self, unit_key: str, step: Optional[str],
                   now: float) -> None:
        """A remediation step of the unit ended (counted for its budget);
        `step` opens or goes on with its sequence, None closes it."""
        row = self.s.get(UnitRow, unit_key)
        row.remedy, row.remedy_at = step, now
        kept = [t for t in (row.remedy_times or "").split()
                if now - float(t) < REMEDY_TIMES_KEPT]
        row.remedy_times = " ".join(kept + [f"{now:.3f}"])

    def end_sequence(self, unit_key: str) -> None:
        """Healthy again: the unit's next heal starts at the first step."""
        row = self.s.get(UnitRow, unit_key)
        if row is not None and row.remedy is not None:
            row.remedy, row.remedy_at = None, None

    def unhealthy_in_group(self, group_key: str) -> list[str]:
        # Plain columns: on the connection, without the ORM's execution
        # path; what this transaction changed is flushed first.
        self.s.flush()
        return sorted(self.s.connection().execute(
            _UNHEALTHY_IN_GROUP, {"group_key": group_key}).scalars())

    def held_in_group(self, group_key: str, reason: str) -> list[str]:
        return sorted(self.s.scalars(sa.select(UnitRow.unit_key).where(
            UnitRow.group_key == group_key, UnitRow.held_reason == reason)))

    # -- intents -------------------------------------------------------------
    def open_intent(self, unit_key: str) -> Optional[IntentRow]:
        if unit_key in self._intent_cache:
            row = self._intent_cache[unit_key]
            # Intents open only through add_intent, which keeps the cache.
            return row if row is not None and row.open_slot == OPEN \
                else None
        row = self._intent_cache[unit_key] = self.s.scalar(
            _OPEN_INTENT, {"unit_key": unit_key})
        return row

    def add_intent(self, unit: Unit, incident: str, now: float,
                   step: str = "replace") -> IntentRow:
        # An intent closed earlier in this transaction must be closed in
        # the database before the new one is, or the two would collide.
        self.s.flush()
        values = dict(unit_key=unit.key, root_stack_id=unit.root_stack_id,
                      incident=incident, state=IntentState.PENDING,
                      wait_reason=None, created_at=now, updated_at=now,
                      batch_id=None, open_slot=OPEN, step=step)
        ident = self.writer.insert_new_id(self.s, IntentRow.__table__,
                                          values)
        if ident is None:
            raise AlreadyRecorded(unit.key)
        row = self._intent_cache[unit.key] = adopt(
            self.s, IntentRow, dict(values, id=ident))
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
