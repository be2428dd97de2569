"""What happened, read from both sides: Mistral's executions of the heal
workflow per root stack, and the ledger's operations and their attempts.

`check_once` is the suite's one verdict: no execution Mistral holds that
no attempt in the ledger asked for, exactly one successful execution per
healed operation, never two executions of one stack alive at once, every
unit asked for healed exactly once.
"""

from __future__ import annotations

import calendar
import collections
import dataclasses
import time
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from tests.faults.drive import Periodic
from vitrage_selfheal.dispatch.mistral import description_for
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import BatchState, Reason
from vitrage_selfheal.names import HEAL_WORKFLOW

# Every decision of a run, whatever the store's default page size.
ALL = 1_000_000


@dataclasses.dataclass(frozen=True)
class MistralExecution:
    id: str
    state: str
    created_at: float
    updated_at: float
    description: str


def _epoch(text: Optional[str]) -> float:
    # Mistral stores UTC, to the second, without a zone.
    if not text:
        return float("nan")
    return float(calendar.timegm(time.strptime(text[:19],
                                               "%Y-%m-%d %H:%M:%S")))


def _list(dispatcher: Any, **filters: str) -> list[dict]:
    answer = dispatcher.session.get(
        f"{dispatcher.endpoint}/executions",
        params={"workflow_name": HEAL_WORKFLOW, "limit": 1000,
                "sort_keys": "created_at", "sort_dirs": "asc", **filters},
        timeout=10)
    answer.raise_for_status()
    return answer.json()["executions"]


def executions(dispatcher: Any, root_stack_id: str
               ) -> list[MistralExecution]:
    """Mistral's executions of the heal workflow on this stack, oldest
    first (the dispatcher describes each with its root stack)."""
    return [MistralExecution(e["id"], e["state"], _epoch(e["created_at"]),
                             _epoch(e.get("updated_at") or e["created_at"]),
                             e.get("description") or "")
            for e in _list(dispatcher,
                           description=description_for(root_stack_id))]


def overlaps(found: Sequence[MistralExecution]) -> list[tuple[str, str]]:
    """Pairs of executions of one stack alive at the same time (to
    Mistral's one-second resolution)."""
    pairs = []
    ordered = sorted(found, key=lambda e: e.created_at)
    for i, first in enumerate(ordered):
        for later in ordered[i + 1:]:
            if first.state == "RUNNING" or later.created_at < \
                    first.updated_at:
                pairs.append((first.id, later.id))
    return pairs


class RunningWatch(Periodic):
    """Samples Mistral's RUNNING heal executions every `every` seconds
    while a fault runs: the most seen at once per stack. A sample that
    fails (Mistral's API down on purpose) is counted, not raised."""

    def __init__(self, dispatcher: Any, every: float = 0.5) -> None:
        super().__init__(every)
        self.dispatcher = dispatcher
        self.most: dict[str, int] = collections.defaultdict(int)
        self.samples = 0
        self.failed = 0

    def step(self) -> None:
        try:
            running = _list(self.dispatcher, state="in:RUNNING,PAUSED,IDLE")
        except Exception:
            self.failed += 1
            return
        self.samples += 1
        per_stack = collections.Counter(
            e.get("description") or "" for e in running)
        for stack, count in per_stack.items():
            self.most[stack] = max(self.most[stack], count)

    def most_at_once(self) -> int:
        return max(self.most.values(), default=0)


@dataclasses.dataclass(frozen=True)
class Operation:
    """A batch as the ledger has it, with the executions its attempts
    asked Mistral for."""

    id: str
    root_stack_id: str
    state: str
    units: tuple[str, ...]
    attempts: tuple[tuple[int, str, str], ...]   # (attempt, id, outcome)

    @property
    def execution_ids(self) -> set[str]:
        return {a[1] for a in self.attempts if a[1]}


def operations(ledger: Ledger, root_stack_id: str) -> list[Operation]:
    with ledger.transaction() as tx:
        ids = sorted({d.batch_id for d in tx.decisions(stack=root_stack_id,
                                                        limit=ALL)
                      if d.batch_id})
        found = []
        for batch_id in ids:
            batch = tx.batch(batch_id)
            attempts = tuple((a.attempt, a.execution_id or "", a.outcome)
                             for a in tx.attempts(batch_id))
            units = tuple(sorted(i.unit_key
                                 for i in tx.batch_intents(batch_id)))
            found.append(Operation(batch.id, batch.root_stack_id,
                                   batch.state, units, attempts))
    return found


def decisions(ledger: Ledger, root_stack_id: Optional[str] = None,
              unit: Optional[str] = None) -> list[Any]:
    with ledger.transaction() as tx:
        return tx.decisions(stack=root_stack_id, unit=unit, limit=ALL)


def reasons(ledger: Ledger, root_stack_id: Optional[str] = None,
            unit: Optional[str] = None) -> collections.Counter:
    return collections.Counter(r.reason for r in decisions(
        ledger, root_stack_id, unit))


def heal_counts(ledger: Ledger, unit_keys: Iterable[str]) -> dict[str, int]:
    """unit key -> heals the ledger recorded (its heal times)."""
    keys = list(unit_keys)
    with ledger.transaction() as tx:
        rows = {r.unit_key: r for r in tx.units(*keys)}
    return {k: len((rows[k].heal_times or "").split()) if k in rows else 0
            for k in keys}


@dataclasses.dataclass
class Verdict:
    operations: list[Operation]
    executions: dict[str, list[MistralExecution]]

    def per_operation(self) -> list[int]:
        """Distinct Mistral executions behind each operation."""
        ids = {e.id for found in self.executions.values() for e in found}
        return [len(op.execution_ids & ids) for op in self.operations]

    def summary(self) -> str:
        counts = collections.Counter(self.per_operation())
        shape = ", ".join(f"{k} each, {n} ops" if n > 1 else f"{k}, 1 op"
                          for k, n in sorted(counts.items()))
        states = collections.Counter(e.state for found in
                                     self.executions.values()
                                     for e in found)
        return f"{shape}: " + ", ".join(f"{n} {s}" for s, n in
                                        sorted(states.items()))


def check_once(ledger: Ledger, dispatcher: Any, stacks: Iterable[str],
               healed: Iterable[str] = (),
               watch: Optional[RunningWatch] = None) -> Verdict:
    """The suite's verdict (module docstring); raises AssertionError with
    both sides' facts."""
    healed = list(healed)
    verdict = Verdict([], {})
    for stack in stacks:
        ops = operations(ledger, stack)
        found = executions(dispatcher, stack)
        verdict.operations += ops
        verdict.executions[stack] = found
        facts = f"stack {stack}: ledger {ops}, Mistral {found}"
        asked = set().union(*(op.execution_ids for op in ops))
        stray = [e.id for e in found if e.id not in asked]
        assert not stray, f"executions no attempt asked for {stray}; {facts}"
        assert not overlaps(found), \
            f"two executions alive at once {overlaps(found)}; {facts}"
        by_id = {e.id: e for e in found}
        for op in ops:
            states = [by_id[i].state for i in op.execution_ids
                      if i in by_id]
            if op.state == BatchState.SUCCESS:
                assert states.count("SUCCESS") == 1, \
                    f"operation {op.id} SUCCESS with executions {states}; " \
                    f"{facts}"
            assert "RUNNING" not in states, f"{op.id} still running; {facts}"
    counts = heal_counts(ledger, healed)
    assert all(n == 1 for n in counts.values()), f"heals per unit {counts}"
    if healed:
        succeeded = collections.Counter(
            d.unit_key for d in decisions(ledger)
            if d.reason == Reason.EXECUTION_SUCCEEDED.value)
        twice = {k: succeeded[k] for k in healed if succeeded[k] != 1}
        assert not twice, f"EXECUTION_SUCCEEDED per unit {twice}"
    if watch is not None:
        assert watch.most_at_once() <= 1, \
            f"RUNNING at once per stack: {dict(watch.most)}"
    return verdict


def all_healed(ledger: Ledger, unit_keys: Iterable[str]) -> bool:
    """True once every unit was healed; raises as soon as a breaker opened
    (waiting on would only time out)."""
    keys = list(unit_keys)
    found = reasons(ledger)
    assert not found[Reason.CIRCUIT_OPEN.value], \
        f"circuit breaker opened: {found}"
    return all(n >= 1 for n in heal_counts(ledger, keys).values())


def replaced(before: dict[str, tuple[str, str]],
             after: dict[str, tuple[str, str]],
             victims: Iterable[str]) -> list[str]:
    """What Heat did wrong: a victim not replaced, another member touched,
    a member left CHECK_FAILED (empty when all is well)."""
    victims = set(victims)
    wrong = []
    for name, (old, _status) in sorted(before.items()):
        new, status = after.get(name, (None, None))
        if status is None or not status.endswith("_COMPLETE"):
            wrong.append(f"{name} is {status}")
        elif name in victims and new == old:
            wrong.append(f"{name} not replaced")
        elif name not in victims and new != old:
            wrong.append(f"{name} touched")
    return wrong
