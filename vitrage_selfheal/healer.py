"""The healer: ingest hands it requests, a ticker moves heals forward.

It owns no policy of its own: admission is decide/pipeline, batching is
decide/coalesce, executions are track/runner. What it adds is the order of
things, the per-stack lock around each, and persistence of every decision.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Optional

from vitrage_selfheal import metrics, operator
from vitrage_selfheal.clock import Clock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.base import Dispatcher
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.store import Ledger, LedgerTx
from vitrage_selfheal.model import Action, Decision, HealRequest, Reason
from vitrage_selfheal.operations.admission import Admission
from vitrage_selfheal.operations.gate import Gate, StatusReader
from vitrage_selfheal.operations.queue import Queue
from vitrage_selfheal.operations.runner import Runner

LOG = logging.getLogger(__name__)

# Requests that could not be persisted (ledger down) wait here, bounded.
BACKLOG_LIMIT = 10000


class Healer:
    def __init__(self, ledger: Ledger, locks: Locks, dispatcher: Dispatcher,
                 status: StatusReader, policy: Policy, clock: Clock,
                 replica: str = "local",
                 observer: Optional[Callable[[Decision], None]] = None,
                 counters: Optional[metrics.Counters] = None
                 ) -> None:
        self.ledger = ledger
        self.locks = locks
        self.status = status
        self.clock = clock
        self.replica = replica
        self.policy = policy
        self.admission = Admission(policy)
        gate = Gate(policy)
        self.queue = Queue(policy, gate)
        self.observer = observer
        self._backlog: collections.deque[HealRequest] = collections.deque(
            maxlen=BACKLOG_LIMIT)
        self._tick_lock = threading.Lock()
        self._status_cache: dict[str, Optional[str]] = {}
        # Process-local: what must be counted while the ledger is down.
        self.counters = counters or metrics.default()
        self.runner = Runner(dispatcher, policy, gate, replica,
                             self.counters)
        # Clock time at the end of the last tick in which no step raised.
        self.last_good_tick: Optional[float] = None

    # -- ingest side ---------------------------------------------------------
    def submit(self, request: HealRequest) -> list[Decision]:
        try:
            return self._submit(request)
        except Exception:
            LOG.exception("could not persist request on %s (%s); kept for "
                          "the next tick", request.unit.key,
                          request.alarm_name)
            if len(self._backlog) == self._backlog.maxlen:
                dropped = self._backlog[0]
                self.counters.inc("healer.backlog_dropped")
                LOG.error("backlog full (%d requests): dropped the oldest, "
                          "on %s (%s), never to be recorded",
                          self._backlog.maxlen, dropped.unit.key,
                          dropped.alarm_name)
            self._backlog.append(request)
            self._count_safely("errors.submit")
            return []

    def _submit(self, request: HealRequest) -> list[Decision]:
        now = self.clock.now()
        with self.locks.hold(request.unit.root_stack_id):
            with self.ledger.transaction() as tx:
                decisions = self.admission.submit(tx, request, now)
                self._record(tx, decisions, now, request.source,
                             request.alarm_key)
        return self._emit(decisions)

    def reject(self, reason: Reason, detail: str, source: str) -> Decision:
        decision = Decision(Action.REJECT, reason, detail)
        LOG.warning("rejected input from %s: %s", source, decision)
        try:
            with self.ledger.transaction() as tx:
                self._record(tx, [decision], self.clock.now(), source)
        except Exception:
            LOG.exception("could not persist a rejection")
        return decision

    # -- operator side -------------------------------------------------------
    def hold(self, reason: str, root_stack_id: Optional[str] = None) -> None:
        operator.hold(self.ledger, self.clock.now(), reason, root_stack_id,
                      self.replica)

    def release(self, root_stack_id: Optional[str] = None) -> int:
        return operator.release(self.ledger, self.clock.now(), root_stack_id,
                                self.replica)

    # -- the ticker ----------------------------------------------------------
    def tick(self) -> list[Decision]:
        """Reconsider holds, form batches, drive executions. Never raises."""
        with self._tick_lock:
            # One Heat read per stack per tick, however many gates ask.
            self._status_cache.clear()
            decisions = self._replay_backlog()
            failed = False
            for step in (self._reconsider, self._form, self._advance):
                try:
                    decisions += step()
                except Exception:
                    failed = True
                    LOG.exception("tick step %s failed", step.__name__)
                    self._count_safely(f"errors.tick{step.__name__}")
            if not failed:
                self.last_good_tick = self.clock.now()
            return decisions

    def _status(self, root_stack_id: str) -> Optional[str]:
        cache = self._status_cache
        if root_stack_id not in cache:
            cache[root_stack_id] = self.status(root_stack_id)
        return cache[root_stack_id]

    def _replay_backlog(self) -> list[Decision]:
        decisions = []
        for _ in range(len(self._backlog)):
            request = self._backlog.popleft()
            decisions += self.submit(request)
        return decisions

    def _reconsider(self) -> list[Decision]:
        with self.ledger.transaction() as tx:
            stacks = sorted({u.root_stack_id for u in tx.held_units()})
        decisions = []
        for stack in stacks:
            with self.locks.hold(stack):
                now = self.clock.now()
                with self.ledger.transaction() as tx:
                    found = [self.admission.reconsider(tx, unit, now)
                             for unit in tx.held_units()
                             if unit.root_stack_id == stack]
                    found = [d for d in found if d is not None]
                    self._record(tx, found, now, "reconsider")
            decisions += self._emit(found)
        return decisions

    def _form(self) -> list[Decision]:
        with self.ledger.transaction() as tx:
            due = self.queue.stacks_due(tx, self.clock.now())
        decisions = []
        for stack in due:
            with self.locks.hold(stack):
                now = self.clock.now()
                with self.ledger.transaction() as tx:
                    _, found = self.queue.form(tx, stack, now,
                                               self._status)
                    self._record(tx, found, now, "coalesce")
            decisions += self._emit(found)
        return decisions

    def _advance(self) -> list[Decision]:
        with self.ledger.transaction() as tx:
            batches = [(b.id, b.root_stack_id) for b in tx.open_batches()]
        decisions = []
        for batch_id, stack in batches:
            with self.locks.hold(stack):
                now = self.clock.now()
                found = self.runner.advance(self.ledger, batch_id, now,
                                            self._status)
                with self.ledger.transaction() as tx:
                    self._record(tx, found, now, "track")
            decisions += self._emit(found)
        return decisions

    # -- persistence and reporting --------------------------------------------
    def _record(self, tx: LedgerTx, decisions: list[Decision], now: float,
                source: str, alarm_key: Optional[str] = None) -> None:
        for decision in decisions:
            tx.record(decision, now, source, alarm_key, self.replica)
            tx.count(f"decisions.{decision.reason.value}")

    def _count_safely(self, name: str) -> None:
        try:
            with self.ledger.transaction() as tx:
                tx.count(name)
        except Exception:
            LOG.exception("could not count %s", name)

    def _emit(self, decisions: list[Decision]) -> list[Decision]:
        for decision in decisions:
            LOG.info("decision %s", decision)
            if self.observer is not None:
                self.observer(decision)
        return decisions
