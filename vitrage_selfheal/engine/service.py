"""The embedded engine as a service: notifications from the bus, periodic
snapshots, and the plugin healing from its deduced alarms.

This is what vitrage-graph + vitrage-notifier do, in one process: the
listener uses Vitrage's own push endpoint (the drivers' enrich_event), the
timer calls the drivers' get_all, and the graph notifier hands deduced
alarms to our notifier plugin.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Optional

from vitrage_selfheal.engine.embedded import EmbeddedEngine

LOG = logging.getLogger(__name__)

# Services publish on their own exchanges; Vitrage listens on its topic.
DEFAULT_EXCHANGES = ("nova", "heat", "aodh", "openstack")


class _BusEndpoint:
    def __init__(self, engine: EmbeddedEngine) -> None:
        self.engine = engine
        self.received = 0

    def info(self, ctxt: Any, publisher_id: str, event_type: str,
             payload: Any, metadata: Any) -> None:
        self.received += 1
        try:
            self.engine.push(event_type, payload, publisher_id)
        except Exception:
            # A bad notification must not stop the listener.
            LOG.exception("notification %s from %s not processed",
                          event_type, publisher_id)

    warn = error = info


class EngineService:
    def __init__(self, engine: EmbeddedEngine,
                 topics: Sequence[str] = ("vitrage_notifications",),
                 exchanges: Sequence[str] = DEFAULT_EXCHANGES,
                 snapshot_interval: float = 60.0,
                 snapshot_types: Optional[Sequence[str]] = None) -> None:
        self.engine = engine
        self.topics = tuple(topics)
        self.exchanges = tuple(exchanges)
        self.snapshot_interval = snapshot_interval
        self.snapshot_types = snapshot_types
        self.endpoint = _BusEndpoint(engine)
        self._listener: Any = None
        self._stop = threading.Event()
        self._timer: Optional[threading.Thread] = None

    def start(self) -> EngineService:
        import oslo_messaging
        from vitrage import messaging

        if not getattr(self.engine, "graph", None):
            self.engine.start()
        self.snapshot_all()
        # Vitrage's cached transport: the one its own notifiers use.
        transport = messaging.get_transport()
        # Plus the transport's own control exchange ('vitrage' once
        # Vitrage's messaging is set up): where Vitrage-side senders post.
        exchanges = dict.fromkeys(
            (*self.exchanges, transport.conf.control_exchange))
        targets = [oslo_messaging.Target(exchange=e, topic=t)
                   for e in exchanges for t in self.topics]
        self._listener = oslo_messaging.get_notification_listener(
            transport, targets, [self.endpoint], executor="threading",
            pool="vitrage-selfheal")
        self._listener.start()
        self._timer = threading.Thread(target=self._every_interval,
                                       daemon=True, name="engine-snapshots")
        self._timer.start()
        LOG.info("embedded engine listening on %s x %s", list(exchanges),
                 self.topics)
        return self

    def snapshot_all(self) -> int:
        types = (self.engine.settings.datasource_types
                 if self.snapshot_types is None else self.snapshot_types)
        total = 0
        for datasource in types:
            try:
                total += self.engine.pull(datasource)
            except Exception:
                LOG.exception("snapshot of %s failed; next in %.0fs",
                              datasource, self.snapshot_interval)
        return total

    def _every_interval(self) -> None:
        while not self._stop.wait(self.snapshot_interval):
            self.snapshot_all()

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.stop()
            self._listener.wait()
        if self._timer is not None:
            self._timer.join(timeout=5)
        self.engine.stop()
