"""Stand-ins for Mistral and Heat in unit tests of our own decision logic."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Optional

from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.base import (
    DispatchError,
    ExecState,
    Execution,
)
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import (
    GroupInfo,
    GroupRef,
    HealRequest,
    Intent,
    ScalePlan,
    Unit,
)

ROOT = "11111111-1111-1111-1111-111111111111"
GROUP_STACK = "22222222-2222-2222-2222-222222222222"


class RecordingDispatcher:
    """Keeps executions by id, as Mistral does for caller-chosen ids."""

    def __init__(self) -> None:
        self.executions: dict[str, dict] = {}
        self.starts: list[tuple[str, str, tuple[str, ...]]] = []
        self.down = False
        # Raised by every start while set (e.g. DispatchRefused for 404).
        self.start_error: Optional[DispatchError] = None
        self.cancels: list[str] = []
        # False: a cancel is acknowledged but the execution keeps running
        # until the test finishes it (Mistral winding down its tasks).
        self.cancel_ends = True
        # Every call in order, to check what happened before what.
        self.calls: list[tuple[str, str]] = []
        # execution id -> the ScalePlan it was started with
        self.scales: dict[str, ScalePlan] = {}
        # execution id -> the ladder step / the fencing wait it was given
        self.steps: dict[str, str] = {}
        self.fences: dict[str, float] = {}
        self.hooks: dict[str, object] = {}
        self._lock = threading.Lock()

    def start(self, execution_id: str, root_stack_id: str,
              units: Sequence[Unit], reason: str,
              scale: Optional[ScalePlan] = None,
              step: Optional[str] = None,
              fence: Optional[float] = None,
              hook: object = None) -> Execution:
        self.calls.append(("start", execution_id))
        if hook is not None:
            self.hooks[execution_id] = hook
        if scale is not None:
            self.scales[execution_id] = scale
        if step is not None:
            self.steps[execution_id] = step
        if fence is not None:
            self.fences[execution_id] = fence
        if self.down:
            raise DispatchError("connection refused (test)")
        if self.start_error is not None:
            raise self.start_error
        with self._lock:
            self.starts.append((execution_id, root_stack_id,
                                tuple(sorted(u.key for u in units))))
            known = self.executions.setdefault(execution_id, {
                "state": ExecState.RUNNING, "root": root_stack_id,
                "units": tuple(sorted(u.key for u in units)), "output": {}})
        return Execution(execution_id, known["state"], known["output"])

    def get(self, execution_id: str) -> Execution:
        self.calls.append(("get", execution_id))
        if self.down:
            raise DispatchError("connection refused (test)")
        known = self.executions.get(execution_id)
        if known is None:
            return Execution(execution_id, ExecState.MISSING)
        return Execution(execution_id, known["state"], known["output"])

    def cancel(self, execution_id: str, reason: str) -> Execution:
        self.calls.append(("cancel", execution_id))
        if self.down:
            raise DispatchError("connection refused (test)")
        self.cancels.append(execution_id)
        known = self.executions.get(execution_id)
        if known is None:
            return Execution(execution_id, ExecState.MISSING)
        if self.cancel_ends and known["state"] is ExecState.RUNNING:
            known["state"] = ExecState.ERROR
        return Execution(execution_id, known["state"], known["output"])

    def running(self) -> list[str]:
        """Executions RUNNING right now, as Mistral would list them."""
        return sorted(i for i, ex in self.executions.items()
                      if ex["state"] is ExecState.RUNNING)

    def finish(self, execution_id: str, state: ExecState,
               output: Optional[dict] = None) -> None:
        self.executions[execution_id]["state"] = state
        self.executions[execution_id]["output"] = output or {}

    def finish_all(self, state: ExecState = ExecState.SUCCESS,
                   output: Optional[dict] = None) -> None:
        for ex_id, ex in self.executions.items():
            if ex["state"] is ExecState.RUNNING:
                self.finish(ex_id, state, output)

    @property
    def distinct(self) -> set[str]:
        return set(self.executions)


class StackStatuses(dict):
    """root stack id -> Heat status; missing stacks are COMPLETE."""

    def __call__(self, root_stack_id: str) -> Optional[str]:
        return self.get(root_stack_id, "UPDATE_COMPLETE")


def unit(name: str, root: str = ROOT, stack: str = GROUP_STACK,
         size: Optional[int] = 4) -> Unit:
    return Unit(root_stack_id=root, stack_id=stack, resource_name=name,
                physical_id=f"server-{name}", group=stack, group_size=size)


def request(u: Unit, alarm: str = "a1", active: bool = True,
            intent: Intent = Intent.HEAL,
            name: str = "selfheal.heal: server lost") -> HealRequest:
    return HealRequest(unit=u, alarm_key=f"{alarm}@{u.key}", alarm_name=name,
                       intent=intent, active=active)


class FakeGroups(dict):
    """group key -> GroupInfo, as Heat would describe each group."""

    def __call__(self, ref: GroupRef) -> Optional[GroupInfo]:
        return self.get(ref.key)


def make_healer(tmp_path, policy: Optional[Policy] = None,
                ledger_url: Optional[str] = None,
                dispatcher: Optional[RecordingDispatcher] = None,
                clock: Optional[FakeClock] = None,
                replica: str = "r1",
                groups: Optional[FakeGroups] = None) -> Healer:
    ledger = Ledger(ledger_url or f"sqlite:///{tmp_path}/ledger.db")
    ledger.upgrade()
    locks = Locks(f"file://{tmp_path}/locks", replica)
    healer = Healer(ledger, locks, dispatcher or RecordingDispatcher(),
                    StackStatuses(), policy or Policy(), clock or FakeClock(),
                    replica=replica, counters=Counters(), groups=groups)
    return healer


class SharedDispatcher:
    """Executions in a SQLite file, so processes racing share one 'Mistral'.

    Like Mistral with caller-chosen ids: a repeated id returns the existing
    execution; every start call is logged so tests can count them.
    """

    def __init__(self, path: str) -> None:
        import sqlite3
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS executions "
                         "(id TEXT PRIMARY KEY, root TEXT, units TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS starts "
                         "(id TEXT, replica TEXT)")

    def start(self, execution_id: str, root_stack_id: str,
              units: Sequence[Unit], reason: str) -> Execution:
        import os
        keys = ",".join(sorted(u.key for u in units))
        self._db.execute("INSERT INTO starts VALUES (?, ?)",
                         (execution_id, str(os.getpid())))
        self._db.execute("INSERT OR IGNORE INTO executions VALUES (?, ?, ?)",
                         (execution_id, root_stack_id, keys))
        return Execution(execution_id, ExecState.RUNNING)

    def cancel(self, execution_id: str, reason: str) -> Execution:
        return Execution(execution_id, ExecState.ERROR)

    def get(self, execution_id: str) -> Execution:
        row = self._db.execute("SELECT id FROM executions WHERE id = ?",
                               (execution_id,)).fetchone()
        state = ExecState.RUNNING if row else ExecState.MISSING
        return Execution(execution_id, state)

    def counts(self) -> tuple[int, int]:
        starts = self._db.execute("SELECT COUNT(*) FROM starts").fetchone()
        execs = self._db.execute("SELECT COUNT(*) FROM executions").fetchone()
        return starts[0], execs[0]


def reasons(decisions) -> list:
    return [d.reason for d in decisions]


def ticks(healer: Healer, clock: FakeClock, n: int = 3,
          seconds: float = 3.0) -> list:
    """`n` ticks, `seconds` apart on the clock; their decisions."""
    out = []
    for _ in range(n):
        clock.advance(seconds)
        out += healer.tick()
    return out
