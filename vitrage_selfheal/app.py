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

from vitrage_selfheal import health as health_checks
from vitrage_selfheal import metrics, opts
from vitrage_selfheal.clock import Clock, SystemClock
from vitrage_selfheal.dispatch.base import Dispatcher
from vitrage_selfheal.events import bus
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ingest import RequestSink
from vitrage_selfheal.ingest.inbox import Inbox
from vitrage_selfheal.ingest.opts import WEBHOOK_GROUP
from vitrage_selfheal.ledger.journal import Journal
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.spool import Spool
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.logs import mask_url
from vitrage_selfheal.model import Decision, HealRequest, Reason, ScaleRequest
from vitrage_selfheal.operations.gate import StatusReader
from vitrage_selfheal.operations.scaling import GroupReader

LOG = logging.getLogger(__name__)


def load_config(config_files: Sequence[str] = (),
                args: Sequence[str] = ()) -> cfg.ConfigOpts:
    """The options, every value checked (opts.check_values)."""
    conf = opts.register(cfg.ConfigOpts())
    try:
        conf(list(args), project="vitrage-selfheal",
             default_config_files=list(config_files))
    except UnicodeDecodeError as exc:
        # oslo.config lets this through without the file's name.
        raise cfg.ConfigFileParseError(
            _undecodable([*config_files, *args]),
            f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    opts.check_values(conf)
    return conf


def _undecodable(candidates: Sequence[str]) -> str:
    """The first of the files (among other arguments) that is not UTF-8."""
    for path in candidates:
        try:
            with open(path, encoding="utf-8") as stream:
                stream.read()
        except UnicodeDecodeError:
            return path
        except OSError:
            continue
    return "a configuration file"


def open_ledger(conf: cfg.ConfigOpts) -> Ledger:
    """The ledger for a service or `db upgrade`: migrated to head, safely.

    Operator commands must not use this: they never migrate.
    """
    from vitrage_selfheal.ledger import migrate

    ledger = Ledger(conf.selfheal.ledger_url)
    migrate.upgrade_safely(ledger.engine)
    return ledger


class App:
    """A Healer plus its ticker; a RequestSink for the ingest side."""

    def __init__(self, conf: cfg.ConfigOpts,
                 dispatcher: Optional[Dispatcher] = None,
                 status: Optional[StatusReader] = None,
                 clock: Optional[Clock] = None,
                 observer: Optional[Callable[[Decision], None]] = None,
                 counters: Optional[metrics.Counters] = None,
                 groups: Optional[GroupReader] = None
                 ) -> None:
        self.conf = conf
        self.counters = counters or metrics.default()
        policy = opts.policy_from(conf)
        if dispatcher is None or status is None:
            from vitrage_selfheal import clients
            needs_keystone = status is None or not conf.mistral.endpoint
            conn = clients.connection(conf) if needs_keystone else None
            dispatcher = dispatcher or clients.mistral_dispatcher(conf, conn)
            status = status or clients.HeatStatus(conn)
            if groups is None and conn is not None:
                from vitrage_selfheal.dispatch.heat_groups import HeatGroups
                groups = HeatGroups(conn)
        ledger = open_ledger(conf)
        clock = clock or SystemClock()
        # Heal lifecycle notifications, when a notification driver is set.
        self.events = bus.from_conf(conf, ledger, clock,
                                    conf.selfheal.replica_id, self.counters)
        self.healer = Healer(
            ledger,
            Locks(conf.selfheal.coordination_url, conf.selfheal.replica_id),
            dispatcher, status, policy, clock,
            replica=conf.selfheal.replica_id,
            observer=_observers(observer, self.events),
            counters=self.counters,
            spool=Spool(conf.selfheal.spool_path,
                        conf.selfheal.spool_max_bytes),
            delivery_ttl=2.0 * conf[WEBHOOK_GROUP].max_skew,
            workers=conf.selfheal.workers,
            follow_interval=conf.mistral.follow_interval,
            groups=groups)
        self.inbox: Optional[Inbox] = None
        if conf.selfheal.inbox_max_items:
            self.inbox = Inbox(self.healer, Journal(conf.selfheal.inbox_path),
                               max_items=conf.selfheal.inbox_max_items,
                               linger=conf.selfheal.inbox_linger,
                               counters=self.counters)
        # Until the first tick, the age of the last good one counts from
        # here: a ticker that never ticks is stale too.
        self._born = self.healer.clock.now()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._stops: list[Callable[[], None]] = []
        # More of what /healthz reports (e.g. the Zaqar consumer's).
        self._checks: list[Callable[[], Optional[str]]] = []

    def add_observer(self, observer: Callable[[Decision], None],
                     stop: Optional[Callable[[], None]] = None) -> None:
        """Also tell `observer` of every decision; `stop` is called by
        App.stop (before the ledger closes)."""
        self.healer.observer = _observers(self.healer.observer, observer)
        if stop is not None:
            self._stops.append(stop)

    def add_health_check(self, check: Callable[[], Optional[str]]) -> None:
        """Also report what `check` finds wrong (None: nothing) in
        `health`."""
        self._checks.append(check)

    def submit(self, request: HealRequest) -> list[Decision]:
        return self.healer.submit(request)

    def reject(self, reason: Reason, detail: str, source: str,
               delivery: Optional[str] = None) -> Decision:
        return self.healer.reject(reason, detail, source, delivery)

    def scale(self, request: ScaleRequest) -> list[Decision]:
        return self.healer.scale(request)

    def spooling(self) -> RequestSink:
        """The sink for in-process receivers (Vitrage's notifier, the
        embedded engine): the inbox, which returns at once; without one,
        every request is stored before the receiver's thread goes on.
        They cannot make Vitrage resend, so what the ledger cannot take
        goes to the durable spool either way."""
        if self.inbox is not None:
            return self.inbox
        return SpoolingSink(self.healer)

    def health(self) -> health_checks.Health:
        """What GET /healthz reports: the ledger answers a trivial query
        and a tick without errors ended recently."""
        now = self.healer.clock.now()
        found = (health_checks.ledger_problem(self.healer.ledger),
                 health_checks.tick_problem(
                     self.healer.last_good_tick, self._born, now,
                     self.conf.selfheal.healthz_max_tick_age))
        found += tuple(_checked(check) for check in self._checks)
        return health_checks.Health(tuple(p for p in found if p))

    def start(self) -> App:
        if self.inbox is not None and self._thread is None:
            self.inbox.start()
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
        if self.inbox is not None:
            # Stores what is queued while the ledger is still open.
            self.inbox.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.healer.stop()
        if self.events is not None:
            self.events.stop()
        for stop in self._stops:
            stop()
        self.healer.locks.stop()
        self.healer.ledger.dispose()


def _checked(check: Callable[[], Optional[str]]) -> Optional[str]:
    try:
        return check()
    except Exception as exc:
        LOG.exception("health check %r failed", check)
        return f"health check failed: {type(exc).__name__}: {exc}"


def _observers(*found: Optional[Callable[[Decision], None]]
               ) -> Optional[Callable[[Decision], None]]:
    """One observer calling each given one in turn."""
    chain = [o for o in found if o is not None]
    if len(chain) <= 1:
        return chain[0] if chain else None

    def observe(decision: Decision) -> None:
        for observer in chain:
            observer(decision)
    return observe


class SpoolingSink:
    def __init__(self, healer: Healer) -> None:
        self.healer = healer

    def submit(self, request: HealRequest) -> list[Decision]:
        return self.healer.submit_or_spool(request)

    def reject(self, reason: Reason, detail: str, source: str,
               delivery: Optional[str] = None) -> Decision:
        return self.healer.reject(reason, detail, source, delivery)


_shared: Optional[App] = None
_shared_lock = threading.Lock()


def shared_app(config_files: Sequence[str] = ()) -> App:
    """The process-wide started App, built on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = App(load_config(config_files)).start()
            LOG.info("vitrage-selfheal started (ledger %s)",
                     mask_url(_shared.conf.selfheal.ledger_url))
        return _shared


def shared_sink(config_files: Sequence[str] = ()) -> SpoolingSink:
    """The process-wide App's sink for in-process receivers."""
    return shared_app(config_files).spooling()
