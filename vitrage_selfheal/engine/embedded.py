"""Vitrage's real graph, processor, evaluator and notifier path, in-process.

Nothing of Vitrage is re-implemented here: we build its objects the way
vitrage-graph does and replace only the message bus between them with
direct calls (which also makes a run deterministic for `simulate`):

- datasource events go to `Processor.process_event` (snapshots) or through
  Vitrage's own `DriversNotificationEndpoint` (push notifications, enriched
  by the real drivers);
- the evaluator's actions go back into the processor, as they would over
  the `vitrage.evaluator` topic;
- graph changes go through Vitrage's `GraphNotifier`, whose notifications
  are handed to Vitrage's notifier endpoint and so to our notifier plugin.

A fresh engine's first snapshots go in with the evaluator off, then the
evaluator starts once on the loaded graph (`initial_load`), as
vitrage-graph starts; see `evaluator_start` for how that start is cheap.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import logging
import pathlib
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Optional

import yaml

from vitrage_selfheal import metrics
from vitrage_selfheal.engine import evaluator_start, vitrage_state, workarounds
from vitrage_selfheal.engine.config import EngineSettings, parse
from vitrage_selfheal.ingest import RequestSink

LOG = logging.getLogger(__name__)

# Input events and evaluator actions Vitrage could not process (logged
# with the event; the others go on).
EVENT_ERRORS = "engine.event_errors"
ACTION_ERRORS = "engine.action_errors"


class TemplateLoadError(Exception):
    pass


class DatabaseNotOwned(Exception):
    pass


def check_resettable(url: Any) -> None:
    """Raise DatabaseNotOwned unless `url` is an in-memory SQLite database.

    The engine drops Vitrage's tables on start; pointed (by an override)
    at a real Vitrage database, that would wipe a deployment's templates
    and history.
    """
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (
            None, "", ":memory:"):
        return
    raise DatabaseNotOwned(
        f"the embedded engine resets its Vitrage database on start and does "
        f"so only on its own in-memory SQLite (sqlite://); refusing "
        f"{parsed.render_as_string(hide_password=True)} (drop [database] "
        f"connection from the engine's Vitrage overrides)")


class _DirectBus:
    """Stands where oslo.messaging's Notifier was.

    Notifications raised while one input event is processed are delivered
    together once it is done, ordered by resource and alarm name: Vitrage's
    evaluator walks sets, so its own order depends on PYTHONHASHSEED, and a
    bus would not keep it anyway. The relative order of notifications about
    one alarm is kept.
    """

    def __init__(self, endpoint: Any, publisher: str) -> None:
        self._endpoint = endpoint
        self._publisher = publisher
        self._pending: list[tuple[str, dict]] = []
        self.sent: list[tuple[str, dict]] = []

    def info(self, ctxt: dict, event_type: str, payload: dict) -> None:
        self._pending.append((event_type, payload))

    def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            batch.sort(key=_notification_order)
            for event_type, payload in batch:
                self.sent.append((event_type, payload))
                self._endpoint.info({}, self._publisher, event_type,
                                    payload, {})


def _notification_order(item: tuple[str, dict]) -> tuple[str, str]:
    _event_type, payload = item
    resource = payload.get("resource") or {}
    get = resource.get if hasattr(resource, "get") else (lambda _k: "")
    return (str(get("id") or ""), str(payload.get("name") or ""))


class EmbeddedEngine:
    def __init__(self, settings: EngineSettings, sink: RequestSink,
                 ingest_conf: Any = None,
                 counters: Optional[metrics.Counters] = None) -> None:
        self.settings = settings
        self.counters = counters or metrics.default()
        self.sink = sink
        self.ingest_conf = ingest_conf
        self._evaluator_events: collections.deque = collections.deque()
        self.templates: list[Any] = []
        self.errors: list[str] = []
        # Listener threads and the snapshot timer feed one graph.
        self.lock = threading.RLock()
        self._started = False
        self._loading = False
        # Seconds the last evaluator start on a loaded graph took.
        self.last_evaluator_start_s = 0.0
        # False: that start is Vitrage's full pass (every scenario from
        # every vertex), for comparisons.
        self.anchored_start = True

    # -- start --
    def start(self) -> EmbeddedEngine:
        from oslo_config import cfg
        from oslo_db.sqlalchemy import enginefacade
        from vitrage import storage
        from vitrage.entity_graph import get_graph_driver
        from vitrage.entity_graph.processor.notifier import GraphNotifier
        from vitrage.entity_graph.processor.processor import Processor
        from vitrage.evaluator.scenario_evaluator import ScenarioEvaluator
        from vitrage.notifier.service import VitrageDefaultEventEndpoint
        from vitrage.storage.sqlalchemy import models

        from vitrage_selfheal.ingest.plugins.selfheal import SelfHealNotifier

        parse(self.settings.write())
        # Checked as configured and, below, as oslo.db serves it: oslo.db
        # keeps the process's first engine whatever the configuration says.
        check_resettable(cfg.CONF.database.connection)
        vitrage_state.forget_previous_engine()
        self.db = storage.get_connection_from_config()
        # The embedded graph starts empty, so does its database: a stale
        # active_actions table would silence actions (Vitrage's own fresh
        # start clears it too), and oslo.db keeps one engine per process.
        db_engine = enginefacade.writer.get_engine()
        check_resettable(db_engine.url)
        models.Base.metadata.drop_all(db_engine)
        models.Base.metadata.create_all(db_engine)
        self._load_templates()

        self.graph = get_graph_driver()("Entity Graph")
        self.processor = Processor(self.graph)
        from vitrage.evaluator.scenario_repository import ScenarioRepository
        self.repository = ScenarioRepository()
        self.evaluator = ScenarioEvaluator(
            self.graph, self.repository, self._on_evaluator_actions,
            enabled=False)
        self.notifier = SelfHealNotifier(sink=self.sink,
                                         conf=self.ingest_conf)
        graph_notifier = GraphNotifier()
        self.bus = _DirectBus(VitrageDefaultEventEndpoint([self.notifier]),
                              "vitrage.graph")
        graph_notifier.oslo_notifier = self.bus
        self.graph.subscribe(graph_notifier.notify_when_applicable)
        self.evaluator.run_evaluator()
        self._drain()
        self.bus.flush()
        from vitrage.entity_graph.driver_exec import (
            DriversNotificationEndpoint,
        )
        # Built once: drivers such as Aodh's keep a cache between events.
        self._push_endpoint = DriversNotificationEndpoint(
            self._process_pushed).init()
        self._started = True
        return self

    def stop(self) -> None:
        """Leave Vitrage's process-wide state as we found it."""
        from oslo_config import cfg

        vitrage_state.forget_previous_engine()
        vitrage_state.close_transports()
        plugin = vitrage_state.auth_plugin(cfg.CONF)
        cfg.CONF.reset()
        cfg.CONF.clear()
        vitrage_state.forget_auth_plugin_options(cfg.CONF, plugin)
        self._started = False

    def _load_templates(self) -> None:
        from vitrage.common.constants import TemplateStatus, TemplateTypes
        from vitrage.evaluator.template_db.template_repository import (
            add_templates_to_db,
        )

        files = _template_files(self.settings.template_paths)
        documents = []
        for path in files:
            with open(path) as stream:
                # BaseLoader, as Vitrage does: every scalar a string.
                documents.append(yaml.load(stream, Loader=yaml.BaseLoader))
        if not documents:
            return
        rows = add_templates_to_db(self.db, documents, TemplateTypes.STANDARD)
        bad = [(f, r) for f, r in zip(files, rows, strict=True)
               if r.status == TemplateStatus.ERROR]
        if bad:
            raise TemplateLoadError("; ".join(
                f"{f}: {r.status_details}" for f, r in bad))
        for row in rows:
            self.db.templates.update(row.uuid, "status",
                                     TemplateStatus.ACTIVE)
        self.templates = rows

    # -- feeding --
    def snapshot(self, datasource: str, entities: Iterable[dict],
                 action: Optional[str] = None) -> int:
        """Entities as the datasource's driver returns them from get_all."""
        from vitrage.common.constants import DatasourceAction
        from vitrage.datasources.driver_base import DriverBase

        events = DriverBase.make_pickleable(
            list(entities), datasource,
            action or DatasourceAction.SNAPSHOT)
        with self.lock:
            return self.process(events)

    def push(self, event_type: str, payload: dict,
             publisher: str = "selfheal") -> int:
        """A notification as it arrives on the bus, through Vitrage's own
        push endpoint and the drivers' enrich_event."""
        with self.lock:
            self._pushed = 0
            self._push_endpoint.info(
                {}, publisher, event_type,
                workarounds.aodh_detail_as_object(event_type, payload), {})
            return self._pushed

    def _process_pushed(self, events: Any) -> None:
        # On the bus the drivers' output is serialized; here it would be
        # shared. Vitrage 15's Doctor driver caches the very dict it
        # returns and its transformer rewrites that dict's times in place
        # ('...Z'), so the next compute.host.down for the same host failed
        # to parse ('does not match format %Y-%m-%dT%H:%M:%S.%f'). A copy
        # is what the processor receives in production.
        self._pushed += self.process(copy.deepcopy(events or []))

    def pull(self, datasource: str) -> int:
        """One get_all of a configured driver (e.g. static files)."""
        from vitrage.common.constants import DatasourceAction
        from vitrage.datasources import utils

        driver = utils.get_drivers_by_name([datasource])[0]
        # Read outside the lock (it is I/O), apply inside.
        events = driver.get_all(DatasourceAction.SNAPSHOT) or []
        with self.lock:
            return self.process(events)

    def process(self, events: Iterable[dict]) -> int:
        """Feed events; one that Vitrage cannot process is logged and
        counted (as vitrage-graph does), never fatal to the others."""
        n = 0
        for event in events:
            try:
                self.processor.process_event(event)
            except Exception as exc:
                self._failed(EVENT_ERRORS, "event", event, exc)
            # Even after a failure: what the event changed before it
            # failed was evaluated, and those actions are due.
            self._drain()
            n += 1
            self.bus.flush()
        return n

    def _on_evaluator_actions(self, _event_type: str, events: Any) -> None:
        for event in events if isinstance(events, list) else [events]:
            self._evaluator_events.append(workarounds.with_microseconds(event))

    def _drain(self) -> None:
        """The evaluator's actions, each on its own: one that fails is
        logged and counted, the others (and those it queues) still run."""
        while self._evaluator_events:
            action = self._evaluator_events.popleft()
            try:
                self.processor.process_event(action)
            except Exception as exc:
                self._failed(ACTION_ERRORS, "evaluator action", action, exc)

    def _failed(self, counter: str, what: str, item: Any,
                exc: Exception) -> None:
        LOG.exception("Vitrage could not process %s %r", what, item)
        self.counters.inc(counter)
        self.errors.append(f"{type(exc).__name__}: {exc}")

    # -- the first load --
    @contextlib.contextmanager
    def initial_load(self) -> Iterator[None]:
        """Snapshots fed inside the block are processed with the
        evaluator off; on leaving, the evaluator starts once on the loaded
        graph. Vitrage's own start order (vitrage-graph: snapshot, then
        `run_evaluator`): evaluating each of 10k units and their edges as
        they arrive costs far more than one pass at the end.

        Only for an engine whose graph is still empty: on a graph already
        evaluated, an update processed with the evaluator off would miss
        the withdrawal of what it ends. There (and nested) the block feeds
        as usual, evaluator on. Holds the lock throughout, so that no
        listener's event is processed while the evaluator is off.
        """
        with self.lock:
            if self._loading or self.graph.num_vertices():
                yield
                return
            self._loading = True
            self.evaluator.enabled = False
            try:
                yield
            finally:
                self._loading = False
                self._start_evaluator()

    def _start_evaluator(self) -> None:
        start = time.perf_counter()
        vertices = self.graph.get_vertices()
        done = "full pass"
        try:
            if self.anchored_start:
                with evaluator_start.anchored(self.evaluator,
                                              vertices) as view:
                    self.evaluator.run_evaluator()
                done = (f"{view.matchings} of the {view.stock_matchings} "
                        f"matchings of a full pass")
            else:
                self.evaluator.run_evaluator()
        except Exception as exc:
            # An engine whose evaluator stayed off would look healthy and
            # never deduce anything: Vitrage's full pass instead.
            self._failed(EVENT_ERRORS, "evaluator start", len(vertices), exc)
            self.evaluator.run_evaluator()
        self._drain()
        self.bus.flush()
        self.last_evaluator_start_s = time.perf_counter() - start
        LOG.info("evaluator started on %d vertices in %.2fs (%s)",
                 len(vertices), self.last_evaluator_start_s, done)

    # -- reading the graph --
    def vertices(self, **attrs: Any) -> list[Any]:
        return self.graph.get_vertices(vertex_attr_filter=attrs)

    def active_alarms(self) -> list[Any]:
        from vitrage.common.constants import EntityCategory
        from vitrage.common.constants import VertexProperties as VProps

        return [v for v in self.graph.get_vertices(vertex_attr_filter={
            VProps.VITRAGE_CATEGORY: EntityCategory.ALARM,
            VProps.VITRAGE_IS_DELETED: False})]

    def causes_of(self, alarm_vertex_id: str) -> list[Any]:
        """Alarms that cause this one, nearest first (Vitrage's RCA edges)."""
        from vitrage.common.constants import EdgeLabel
        from vitrage.common.constants import EdgeProperties as EProps
        from vitrage.graph import Direction

        chain, frontier, seen = [], [alarm_vertex_id], {alarm_vertex_id}
        while frontier:
            nxt = []
            for vid in frontier:
                for v in self.graph.neighbors(
                        vid, direction=Direction.IN,
                        edge_attr_filter={
                            EProps.RELATIONSHIP_TYPE: EdgeLabel.CAUSES,
                            EProps.VITRAGE_IS_DELETED: False}):
                    if v.vertex_id not in seen:
                        seen.add(v.vertex_id)
                        chain.append(v)
                        nxt.append(v.vertex_id)
            frontier = sorted(nxt)
        return chain


def _template_files(paths: Sequence[str]) -> list[str]:
    files: list[str] = []
    for raw in paths:
        path = pathlib.Path(raw)
        if path.is_dir():
            files += sorted(str(p) for p in path.glob("*.yaml"))
        else:
            files.append(str(path))
    return files
