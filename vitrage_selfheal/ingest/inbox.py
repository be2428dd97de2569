"""The inbox: in-process receivers (Vitrage's notifier thread, the
embedded engine) hand requests here and return at once; one drainer
thread stores them in batches.

Why: admission is a ledger transaction per request, and inside Vitrage's
processing thread it slowed the engine down by 40-70 % in a storm. Here a
hand-off costs one journal append. The drainer takes everything queued,
orders it (`order_batch`) and gives it to `Healer.submit_batch`: one lock
and one transaction per root stack per batch.

Bounded: past `max_items` queued, the hand-off stores the request itself
(the caller waits for the ledger, as without an inbox): back-pressure,
never a drop. Durable: see ledger/journal.py.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Optional, Protocol

from vitrage_selfheal import metrics
from vitrage_selfheal.ledger.journal import Journal
from vitrage_selfheal.model import Decision, HealRequest, Reason

LOG = logging.getLogger(__name__)

# After a drain that could not store everything, wait before the next.
RETRY_DELAY = 1.0


class BatchHealer(Protocol):
    def submit_batch(self, requests: Sequence[HealRequest]
                     ) -> tuple[list[Decision], list[HealRequest]]: ...

    def submit_or_spool(self, request: HealRequest) -> list[Decision]: ...

    def reject(self, reason: Reason, detail: str, source: str,
               delivery: Optional[str] = None) -> Decision: ...


def order_batch(requests: Sequence[HealRequest]) -> list[HealRequest]:
    """Activations before clears, each alarm's own events in arrival order.

    Vitrage hands over the notifications of one graph change in no useful
    order: a unit's application alarm is often withdrawn (because its host
    alarm now explains it) just before the host alarm is raised. Applied
    in that order, the clear takes the unit's queued heal back ("recovered
    by itself") and the raise queues it again, restarting its coalescing.
    An alarm whose first event in the batch is an activation goes first.
    """
    by_alarm: dict[tuple[str, str], list[HealRequest]] = {}
    for request in requests:
        by_alarm.setdefault((request.unit.key, request.alarm_key),
                            []).append(request)
    groups = sorted(by_alarm.values(), key=lambda g: not g[0].active)
    return [request for group in groups for request in group]


class Inbox:
    """A RequestSink; `start()` it, `stop()` it to store what is queued."""

    def __init__(self, healer: BatchHealer,
                 journal: Optional[Journal] = None,
                 max_items: int = 100_000, linger: float = 0.05,
                 counters: Optional[metrics.Counters] = None) -> None:
        self.healer = healer
        self.journal = journal
        self.max_items = max_items
        self.linger = linger
        self.counters = counters or metrics.default()
        self._items: collections.deque[HealRequest] = collections.deque()
        self._cond = threading.Condition()
        self._stop = False
        self._thread: Optional[threading.Thread] = None
        self._draining = 0
        self._recovered: list[Any] = []
        if journal is not None:
            self._recover(journal)

    def _recover(self, journal: Journal) -> None:
        """What a previous process handed over and did not store goes
        first, before anything handed over now."""
        items, self._recovered = journal.recover()
        if items:
            LOG.warning("inbox: %d request(s) from a previous run "
                        "recovered from %s", len(items), journal.path)
            self.counters.inc("inbox.recovered", len(items))
            self._items.extend(items)

    # -- the receiver's side -------------------------------------------------
    def submit(self, request: HealRequest) -> list[Decision]:
        with self._cond:
            if len(self._items) < self.max_items and not self._stop:
                try:
                    if self.journal is not None:
                        self.journal.append(request)
                except OSError as exc:
                    self.counters.inc("inbox.journal_failed")
                    LOG.error("inbox journal %s: %s; storing the request "
                              "on %s directly", self.journal.path, exc,
                              request.unit.key)
                else:
                    self._items.append(request)
                    self._cond.notify()
                    return []
            else:
                self.counters.inc("inbox.full")
        # Full (or stopping): the caller stores it, and so slows down.
        return self.healer.submit_or_spool(request)

    def reject(self, reason: Reason, detail: str, source: str,
               delivery: Optional[str] = None) -> Decision:
        return self.healer.reject(reason, detail, source, delivery)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items) + self._draining

    # -- the drainer ---------------------------------------------------------
    def start(self) -> Inbox:
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="selfheal-inbox")
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._stop:
                    self._cond.wait()
                if self._stop and not self._items:
                    return
            # A storm arrives over milliseconds: let a batch gather.
            time.sleep(self.linger)
            try:
                if not self.drain():
                    time.sleep(RETRY_DELAY)
            except Exception:
                self.counters.inc("inbox.drain_failed")
                LOG.exception("inbox drain failed; retrying")
                time.sleep(RETRY_DELAY)

    def drain(self) -> bool:
        """Store everything queued; False if some of it must wait."""
        with self._cond:
            batch = list(self._items)
            self._items.clear()
            self._draining = len(batch)
            segment = self.journal.rotate() if self.journal else None
        if not batch:
            self._draining = 0
            return True
        try:
            _decisions, kept = self.healer.submit_batch(order_batch(batch))
        except Exception:
            kept = batch
            raise
        finally:
            self._keep(kept, segment)
        self.counters.inc("inbox.stored", len(batch) - len(kept))
        return not kept

    def _keep(self, kept: list[HealRequest], segment: Any) -> None:
        """Requests not stored go back to the head of the queue (and the
        journal) before their segment is deleted."""
        with self._cond:
            for request in kept:
                if self.journal is not None:
                    self.journal.append(request)
            self._items.extendleft(reversed(kept))
            self._draining = 0
        if self.journal is not None:
            self.journal.done(segment)
            for path in self._recovered:
                self.journal.done(path)
            self._recovered = []

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything handed over is stored (tests, benches)."""
        deadline = time.monotonic() + timeout
        while len(self) and time.monotonic() < deadline:
            time.sleep(0.01)
        return not len(self)

    def stop(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        if self.journal is not None:
            self.journal.close()

