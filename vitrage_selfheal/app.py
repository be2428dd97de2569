"""The assembled plugin: configuration in, a running Healer out.

Hosts that embed the plugin (Vitrage's notifier process, `vitrage-selfheal
serve`, the embedded engine) call `shared_app()` and get one started App
per process, ticking in a daemon thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Optional

from oslo_config import cfg

from vitrage_selfheal import opts
from vitrage_selfheal.clock import Clock, SystemClock
from vitrage_selfheal.decide.coalesce import StatusReader
from vitrage_selfheal.decide.reasons import Decision, Reason
from vitrage_selfheal.dispatch.base import Dispatcher
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import HealRequest

LOG = logging.getLogger(__name__)


def load_config(config_files: Sequence[str] = (),
                args: Sequence[str] = ()) -> cfg.ConfigOpts:
    conf = opts.register(cfg.ConfigOpts())
    conf(list(args), project="vitrage-selfheal",
         default_config_files=list(config_files))
    return conf


def open_ledger(conf: cfg.ConfigOpts) -> Ledger:
    ledger = Ledger(conf.selfheal.ledger_url)
    ledger.upgrade()
    return ledger


class App:
    """A Healer plus its ticker; a RequestSink for the ingest side."""

    def __init__(self, conf: cfg.ConfigOpts,
                 dispatcher: Optional[Dispatcher] = None,
                 status: Optional[StatusReader] = None,
                 clock: Optional[Clock] = None,
                 observer: Optional[Callable[[Decision], None]] = None
                 ) -> None:
        self.conf = conf
        policy = opts.policy_from(conf)
        if dispatcher is None or status is None:
            from vitrage_selfheal import clients
            needs_keystone = status is None or not conf.mistral.endpoint
            conn = clients.connection(conf) if needs_keystone else None
            dispatcher = dispatcher or clients.mistral_dispatcher(conf, conn)
            status = status or clients.HeatStatus(conn)
        self.healer = Healer(
            open_ledger(conf),
            Locks(conf.selfheal.coordination_url, conf.selfheal.replica_id),
            dispatcher, status, policy, clock or SystemClock(),
            replica=conf.selfheal.replica_id, observer=observer)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def submit(self, request: HealRequest) -> list[Decision]:
        return self.healer.submit(request)

    def reject(self, reason: Reason, detail: str, source: str) -> Decision:
        return self.healer.reject(reason, detail, source)

    def start(self) -> App:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="selfheal-ticker")
            self._thread.start()
        return self

    def _run(self) -> None:
        interval = self.conf.selfheal.tick_interval
        while not self._stop.wait(interval):
            self.healer.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.healer.locks.stop()
        self.healer.ledger.dispose()


_shared: Optional[App] = None
_shared_lock = threading.Lock()


def shared_app(config_files: Sequence[str] = ()) -> App:
    """The process-wide started App, built on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = App(load_config(config_files)).start()
            LOG.info("vitrage-selfheal started (ledger %s)",
                     _shared.conf.selfheal.ledger_url)
        return _shared
