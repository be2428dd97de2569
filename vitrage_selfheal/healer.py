"""The healer: ingest hands it requests, a ticker moves heals forward.

It owns no policy of its own: admission is operations/admission, the
per-stack queue operations/queue, executions operations/runner. What it
adds is the order of things, the per-stack lock around each, persistence
of every decision before a request is acknowledged, and the spool that
keeps what the ledger could not take.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Optional

from vitrage_selfheal import metrics, operator
from vitrage_selfheal.clock import Clock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.base import Dispatcher
from vitrage_selfheal.errors import NotRecorded, Replayed
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.spool import Spool, SpoolFull
from vitrage_selfheal.ledger.store import (
    AlreadyRecorded,
    Ledger,
    LedgerTx,
    is_poison,
)
from vitrage_selfheal.model import (
    Action,
    Decision,
    GroupInfo,
    HealRequest,
    IntentState,
    Reason,
    ScaleRequest,
)
from vitrage_selfheal.operations.admission import Admission
from vitrage_selfheal.operations.gate import Gate, StatusReader, read_status
from vitrage_selfheal.operations.queue import Queue
from vitrage_selfheal.operations.runner import Runner
from vitrage_selfheal.operations.scaling import (
    GroupReader,
    group_ref,
    read_group,
)
from vitrage_selfheal.operations.workers import StackWorkers

LOG = logging.getLogger(__name__)

# Twice the webhook's default max_skew: a timestamp accepted at the edge
# of the window stays refused as stale after this.
DELIVERY_TTL = 600.0
PRUNE_INTERVAL = 60.0


class Healer:
    def __init__(self, ledger: Ledger, locks: Locks, dispatcher: Dispatcher,
                 status: StatusReader, policy: Policy, clock: Clock,
                 replica: str = "local",
                 observer: Optional[Callable[[Decision], None]] = None,
                 counters: Optional[metrics.Counters] = None,
                 spool: Optional[Spool] = None,
                 delivery_ttl: float = DELIVERY_TTL,
                 workers: int = 0, follow_interval: float = 0.0,
                 groups: Optional[GroupReader] = None) -> None:
        self.ledger = ledger
        self.locks = locks
        self.status = status
        # Heat's view of a group (size, bounds, how to resize it); without
        # one, scale requests wait with a named reason.
        self.groups = groups
        self.clock = clock
        self.replica = replica
        self.policy = policy
        self.admission = Admission(policy)
        gate = Gate(policy)
        self.queue = Queue(policy, gate)
        self.observer = observer
        self.spool = spool
        # How long a claimed delivery is remembered: past it, the
        # signature's timestamp is refused as stale anyway.
        self.delivery_ttl = delivery_ttl
        self._pruned_at = float("-inf")
        self._tick_lock = threading.Lock()
        self._status_cache: dict[str, Optional[str]] = {}
        # Process-local: what must be counted while the ledger is down.
        self.counters = counters or metrics.default()
        self.runner = Runner(dispatcher, policy, gate, replica,
                             self.counters, follow_interval)
        # 0 threads: every stack inline, in order (tests, the simulator).
        self.workers = StackWorkers(workers, wait=0.5, clock=clock,
                                    counters=self.counters)
        # Clock time at the end of the last tick in which no step raised.
        self.last_good_tick: Optional[float] = None

    # -- ingest side ---------------------------------------------------------
    def submit(self, request: HealRequest) -> list[Decision]:
        """Admit one request, persisted before this returns.

        Raises NotRecorded if the ledger could not take it (nothing was
        stored; the caller must not acknowledge it) and Replayed if its
        signed delivery was applied before. A request the database can
        never store (a poison row) is rejected as INVALID_FIELD, never
        retried.
        """
        try:
            return self._submit(request)
        except Replayed:
            self.counters.inc("ingest.replayed")
            raise
        except Exception as exc:
            if not is_poison(exc):
                self.counters.inc("healer.not_recorded")
                LOG.exception("ledger could not take the request on %s "
                              "(%s); NOT recorded", request.unit.key,
                              request.alarm_name)
                raise NotRecorded(f"{type(exc).__name__}: {exc}") from exc
            return [self._poisoned(request, exc)]

    def submit_or_spool(self, request: HealRequest) -> list[Decision]:
        """submit; if the ledger is down, keep the request in the durable
        spool for the ticker to replay. Raises NotRecorded only if the
        spool could not keep it either."""
        try:
            return self.submit(request)
        except NotRecorded:
            if self.spool is None:
                raise
            try:
                self.spool.put(request)
            except (SpoolFull, OSError) as exc:
                self.counters.inc("healer.spool_refused")
                LOG.error("request on %s (%s) neither recorded nor "
                          "spooled: %s", request.unit.key,
                          request.alarm_name, exc)
                raise NotRecorded(str(exc)) from exc
            self.counters.inc("healer.spooled")
            LOG.warning("request on %s (%s) spooled to %s until the ledger "
                        "answers", request.unit.key, request.alarm_name,
                        self.spool.path)
            return []

    def submit_batch(self, requests: Sequence[HealRequest]
                     ) -> tuple[list[Decision], list[HealRequest]]:
        """Admit many requests in their order: per root stack one lock and
        one transaction. A stack whose transaction fails is retried one
        request at a time, so a poison request is rejected alone and the
        others are stored (or spooled). Returns the decisions and the
        requests that could be neither stored nor spooled."""
        by_stack: dict[str, list[HealRequest]] = {}
        for request in requests:
            by_stack.setdefault(request.unit.root_stack_id,
                                []).append(request)
        decisions: list[Decision] = []
        kept: list[HealRequest] = []
        for stack, group in by_stack.items():
            try:
                decisions += self._submit_group(stack, group)
            except Exception:
                LOG.warning("batch of %d request(s) on stack %s failed; "
                            "storing them one by one", len(group), stack,
                            exc_info=True)
                for request in group:
                    try:
                        decisions += self.submit_or_spool(request)
                    except Replayed:
                        pass
                    except NotRecorded:
                        kept.append(request)
        return decisions, kept

    def _submit_group(self, stack: str,
                      group: list[HealRequest]) -> list[Decision]:
        found: list[Decision] = []
        with self.locks.hold(stack):
            now = self.clock.now()
            with self.ledger.transaction() as tx:
                for request in group:
                    self._claim(tx, request.delivery, now)
                    decisions = self.admission.submit(tx, request, now)
                    self._record(tx, decisions, now, request.source,
                                 request.alarm_key)
                    found += decisions
        return self._emit(found)

    def _submit(self, request: HealRequest) -> list[Decision]:
        now = self.clock.now()
        with self.locks.hold(request.unit.root_stack_id):
            with self.ledger.transaction() as tx:
                self._claim(tx, request.delivery, now)
                decisions = self.admission.submit(tx, request, now)
                self._record(tx, decisions, now, request.source,
                             request.alarm_key)
        return self._emit(decisions)

    def _claim(self, tx: LedgerTx, delivery: Optional[str],
               now: float) -> None:
        if delivery is None:
            return
        try:
            tx.claim_delivery(delivery, now, now + self.delivery_ttl)
        except AlreadyRecorded:
            raise Replayed(delivery) from None

    def _poisoned(self, request: HealRequest, exc: Exception) -> Decision:
        self.counters.inc("healer.poison")
        LOG.error("the ledger cannot store the request on %s (%s): %s",
                  request.unit.key, request.alarm_name, exc)
        return self.reject(Reason.INVALID_FIELD,
                           f"request on {request.unit.key!r} "
                           f"({request.alarm_name!r}) cannot be stored: "
                           f"{type(exc).__name__}: {exc}", request.source)

    def reject(self, reason: Reason, detail: str, source: str,
               delivery: Optional[str] = None) -> Decision:
        """Record a rejection. Raises Replayed like submit; a ledger
        failure is logged and counted, never raised: the rejection itself
        is in the log line."""
        decision = Decision(Action.REJECT, reason, detail)
        LOG.warning("rejected input from %s: %s", source, decision)
        try:
            now = self.clock.now()
            with self.ledger.transaction() as tx:
                self._claim(tx, delivery, now)
                self._record(tx, [decision], now, source)
        except Replayed:
            self.counters.inc("ingest.replayed")
            raise
        except Exception:
            self.counters.inc("healer.rejection_not_recorded")
            LOG.exception("could not persist a rejection")
        return decision

    def scale(self, request: ScaleRequest) -> list[Decision]:
        """Admit a scale request (an operator's command, an Aodh alarm on
        the group); persisted before this returns."""
        now = self.clock.now()
        with self.locks.hold(request.group.root_stack_id):
            with self.ledger.transaction() as tx:
                decisions = self.admission.scaling.submit(tx, request, now)
                self._record(tx, decisions, now, request.source,
                             request.alarm_key or None)
        return self._emit(decisions)

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
            decisions: list[Decision] = []
            failed = False
            for step in (self._replay_spool, self._prune, self._reconsider,
                         self._stacks):
                try:
                    decisions += step()
                except Exception:
                    failed = True
                    LOG.exception("tick step %s failed", step.__name__)
                    self._count_safely(f"errors.tick{step.__name__}")
            if self.workers.take_failed():
                failed = True
            if not failed:
                self.last_good_tick = self.clock.now()
            return decisions

    def _status(self, root_stack_id: str) -> Optional[str]:
        cache = self._status_cache
        if root_stack_id not in cache:
            cache[root_stack_id] = self.status(root_stack_id)
        return cache[root_stack_id]

    def _replay_spool(self) -> list[Decision]:
        if self.spool is None:
            return []
        decisions: list[Decision] = []

        def store(request: HealRequest) -> None:
            try:
                decisions.extend(self.submit(request))
            except Replayed:
                pass  # stored before a crash lost the spool's rewrite

        # NotRecorded stops the drain: the rest waits for the next tick.
        try:
            self.spool.drain(store)
        except NotRecorded:
            pass
        return decisions

    def _prune(self) -> list[Decision]:
        now = self.clock.now()
        if now - self._pruned_at >= PRUNE_INTERVAL:
            with self.ledger.transaction() as tx:
                tx.prune_deliveries(now)
            self._pruned_at = now
        return []

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

    def _stacks(self) -> list[Decision]:
        """Form and drive each stack's operation, stacks side by side."""
        with self.ledger.transaction() as tx:
            due = set(self.queue.stacks_due(tx, self.clock.now()))
            open_ = {b.root_stack_id: b.id for b in tx.open_batches()}
        jobs = [(stack, functools.partial(self._stack_step, stack,
                                          stack in due))
                for stack in sorted(due | set(open_))]
        return self.workers.run(jobs)

    def _stack_step(self, stack: str, form: bool) -> list[Decision]:
        decisions = self._form(stack) if form else []
        with self.ledger.transaction() as tx:
            batch = tx.open_batch(stack)
            batch_id = batch.id if batch is not None else None
        if batch_id is not None:
            decisions += self._advance(stack, batch_id)
        return decisions

    def _form(self, stack: str) -> list[Decision]:
        # Heat is read before the lock is taken: a slow Heat must not keep
        # this stack's submits waiting.
        status = read_status(self._status, stack)
        groups = self._read_groups(stack)
        with self.locks.hold(stack):
            now = self.clock.now()
            with self.ledger.transaction() as tx:
                _, found = self.queue.form(tx, stack, now,
                                           lambda _root: status, groups)
                self._record(tx, found, now, "coalesce")
        return self._emit(found)

    def _read_groups(self, stack: str) -> dict[str, Optional[GroupInfo]]:
        """Heat's view of each group with a queued scale request."""
        with self.ledger.transaction() as tx:
            refs = [group_ref(s) for s in tx.open_scales(stack)
                    if s.state == IntentState.PENDING]
        return {ref.key: read_group(self.groups, ref) for ref in refs}

    def _advance(self, stack: str, batch_id: str) -> list[Decision]:
        now = self.clock.now()
        # The runner's steps are compare-and-set transitions; each of its
        # transactions holds the stack's lock, none of its network calls.
        found = self.runner.advance(_LockedLedger(self.ledger, self.locks,
                                                  stack),
                                    batch_id, now, self._status)
        with self.locks.hold(stack):
            with self.ledger.transaction() as tx:
                self._record(tx, found, now, "track")
        return self._emit(found)

    def stop(self) -> None:
        self.workers.stop()

    # -- persistence and reporting --------------------------------------------
    def _record(self, tx: LedgerTx, decisions: list[Decision], now: float,
                source: str, alarm_key: Optional[str] = None) -> None:
        for decision in decisions:
            tx.record(decision, now, source, alarm_key, self.replica,
                      counted=f"decisions.{decision.reason.value}")

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


class _LockedLedger:
    """The ledger as the runner sees it: every transaction under the
    stack's lock, so decisions on one stack stay serialised while the
    network calls between them hold nothing."""

    def __init__(self, ledger: Ledger, locks: Locks, stack: str) -> None:
        self._ledger = ledger
        self._locks = locks
        self._stack = stack

    @contextlib.contextmanager
    def transaction(self) -> Iterator[LedgerTx]:
        with self._locks.hold(self._stack):
            with self._ledger.transaction() as tx:
                yield tx
