"""Publish heal lifecycle notifications (events/__init__.py) on the bus.

Configured the OpenStack way: `[oslo_messaging_notifications] driver`
(messagingv2), `topics` and `transport_url` (else `[DEFAULT]
transport_url`); with no driver nothing is published. Decisions are
queued by the healer's thread and published by a thread of their own: a
bus that is down or slow must never hold a heal. The queue is bounded; what
does not fit is counted and logged, never waited for.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Optional

from vitrage_selfheal import metrics
from vitrage_selfheal.clock import Clock
from vitrage_selfheal.events import lifecycle_of, payload_of
from vitrage_selfheal.logs import Throttled
from vitrage_selfheal.model import Decision

LOG = logging.getLogger(__name__)

__all__ = ["BusPublisher", "EngineNotifier", "from_conf", "into_engine"]

PUBLISHED = "events.published"
DROPPED = "events.dropped"
FAILED = "events.failed"

# The operation of a decision: (execution id, kind), read from the ledger.
OperationReader = Callable[[str], Optional[tuple[str, str]]]


class BusPublisher:
    """An observer of decisions (Healer's `observer`) that publishes."""

    def __init__(self, notifier: Any, clock: Clock, replica: str,
                 operations: OperationReader,
                 counters: Optional[metrics.Counters] = None,
                 max_queued: int = 10_000) -> None:
        self._notifier = notifier
        self._clock = clock
        self._replica = replica
        self._operations = operations
        self.counters = counters or metrics.default()
        self._queue: queue.Queue = queue.Queue(max_queued)
        self._dropped_log = Throttled(LOG, logging.ERROR, 60.0, clock)
        self._thread: Optional[threading.Thread] = None

    def __call__(self, decision: Decision) -> None:
        if lifecycle_of(decision) is None:
            return
        try:
            self._queue.put_nowait((decision, self._clock.now()))
        except queue.Full:
            self.counters.inc(DROPPED)
            self._dropped_log.log("events: %d notifications queued, the "
                                  "bus does not keep up; dropped %s",
                                  self._queue.maxsize, decision)

    def start(self) -> BusPublisher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="selfheal-events")
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Publishes what is queued (for up to `timeout` seconds)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self.publish(*item)

    def publish(self, decision: Decision, at: float) -> None:
        found = lifecycle_of(decision)
        if found is None:
            return
        try:
            operation = (self._operations(decision.batch_id)
                         if decision.batch_id else None)
            payload = payload_of(decision, at, self._replica, operation)
            getattr(self._notifier, found.priority)({}, found.event_type,
                                                    payload)
        except Exception:
            self.counters.inc(FAILED)
            LOG.exception("events: %s not published for %s",
                          found.event_type, decision)
            return
        self.counters.inc(PUBLISHED)


def from_conf(conf: Any, ledger: Any, clock: Clock, replica: str,
              counters: Optional[metrics.Counters] = None
              ) -> Optional[BusPublisher]:
    """A started publisher, or None when no notification driver is set."""
    import oslo_messaging
    from oslo_messaging import opts as messaging_opts

    group = "oslo_messaging_notifications"
    for name, options in messaging_opts.list_opts():
        if name == group:
            conf.register_opts(options, group=group)
    # No driver is oslo.messaging's "notifications off" too, though its
    # Notifier.is_enabled() says yes to it. Decided before any transport
    # is made: most deployments publish nothing.
    if not set(conf[group].driver) - {"noop"}:
        return None
    transport = oslo_messaging.get_notification_transport(conf)
    # Bounded retries: the publishing thread must come back to a queue
    # that keeps filling while the bus is away.
    notifier = oslo_messaging.Notifier(
        transport, publisher_id=f"vitrage-selfheal.{replica}", retry=3)
    return BusPublisher(notifier, clock, replica, _operation_reader(ledger),
                        counters).start()


def _operation_reader(ledger: Any) -> OperationReader:
    from vitrage_selfheal.ledger.models import BatchRow

    def read(batch_id: str) -> Optional[tuple[str, str]]:
        with ledger.transaction() as tx:
            row = tx.s.get(BatchRow, batch_id)
            return (row.execution_id, row.kind) if row is not None else None
    return read


class EngineNotifier:
    """A Notifier's methods, delivering into an embedded engine as if the
    notification came off the bus (its drivers' enrich_event)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def info(self, ctxt: dict, event_type: str, payload: dict) -> None:
        self._engine.push(event_type, payload, publisher="selfheal")

    warn = error = info


def into_engine(app: Any, engine: Any) -> BusPublisher:
    """The App's lifecycle notifications also go straight into `engine`
    (the heat.unit vertices' heal_state follows at once); by a thread of
    their own, so the healer never waits on the engine's lock."""
    publisher = BusPublisher(
        EngineNotifier(engine), app.healer.clock, app.healer.replica,
        _operation_reader(app.healer.ledger), app.counters).start()
    app.add_observer(publisher, publisher.stop)
    return publisher
