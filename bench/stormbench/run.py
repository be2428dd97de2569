"""One side of the storm benchmark, in this process: the engine, the
storm played at wall-clock speed, the heals recorded and replaced.

`selfheal`: the project's datasource, templates and notifier, a SQLite
ledger, the Healer ticking in its own thread as the service does, and a
recording dispatcher whose executions succeed after `heal_duration`.

`stock`: the same engine and datasource, templates with Vitrage's own
`execute_mistral` action, and Vitrage's stock MistralNotifier whose
Mistral client records each `executions.create`.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import pathlib
import resource
import threading
import time
from typing import Any, Optional

from bench.stormbench.topology import Storm, TimedEvent, return_events
from vitrage_selfheal import logs
from vitrage_selfheal.clock import SystemClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.engine.config import EngineSettings
from vitrage_selfheal.engine.embedded import EmbeddedEngine
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.inbox import Inbox
from vitrage_selfheal.ledger.journal import Journal
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import Reason, Unit
from vitrage_selfheal.simulate.cloud import SimulatedCloud
from vitrage_selfheal.simulate.report import Report
from vitrage_selfheal.simulate.runner import RecordingExecutor
from vitrage_selfheal.simulate.scenario import Event

REPO = pathlib.Path(__file__).resolve().parents[2]
STOCK_TEMPLATES = pathlib.Path(__file__).resolve().parent / "stock_templates"
TICK = 0.5
RETURN_AFTER = 20.0      # a fully lost rack's hosts return this late
UNRESOLVED = "get_attr("


@dataclasses.dataclass
class Settings:
    side: str                      # "selfheal" | "stock" | "engine"
    policy: Policy
    heal_duration: float = 5.0
    settle: float = 25.0           # quiet this long at the end
    timeout: float = 900.0


@dataclasses.dataclass
class Heal:
    at: float
    stack: str
    units: tuple[str, ...]
    unresolved: bool = False


class _Timeline:
    """What happened when, by the wall clock, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.heals: list[Heal] = []
        self.requests: list[tuple[float, str, str, bool]] = []
        self.decisions: list[tuple[float, Any]] = []
        self.fed_last = 0.0
        self.storm_done = 0.0
        self.first = 0.0

    def heal(self, heal: Heal) -> None:
        with self.lock:
            self.heals.append(heal)


def run(storm: Storm, settings: Settings, workdir: pathlib.Path) -> dict:
    clock = SystemClock()
    timeline = _Timeline()
    cloud = SimulatedCloud(storm.scenario, workdir / "static", clock)
    kind = {"selfheal": _SelfHealSide, "stock": _StockSide,
            "engine": _EngineOnly}[settings.side]
    side = kind(storm, settings, cloud, clock, timeline, workdir)
    with logs.quiet("vitrage.datasources.aodh.driver"):
        side.engine.start()
    side.wired()
    try:
        with side.engine.lock:
            cloud.load(side.engine)
        side.start_ticker()
        _play(storm.events, side, timeline, clock)
        timeline.storm_done = clock.now()
        back = return_events(storm)
        if back:
            wait = timeline.first + RETURN_AFTER - clock.now()
            time.sleep(max(wait, 5.0))
            _play(back, side, timeline, clock)
        side.settle(settings)
    finally:
        side.stop()
    return _measure(storm, settings, side, timeline)


def _play(events: list[TimedEvent], side: Any, timeline: _Timeline,
          clock: SystemClock) -> None:
    start = clock.now()
    if not timeline.first:
        timeline.first = start
    for event in events:
        delay = start + event.at - clock.now()
        if delay > 0:
            time.sleep(delay)
        timeline.fed_last = clock.now()
        with side.engine.lock:
            side.cloud.apply(Event(event.at, event.kind, event.arg),
                             side.engine)


class _Side:
    def __init__(self, storm: Storm, settings: Settings,
                 cloud: SimulatedCloud, clock: SystemClock,
                 timeline: _Timeline, workdir: pathlib.Path) -> None:
        self.storm, self.settings, self.cloud = storm, settings, cloud
        self.clock, self.timeline, self.workdir = clock, timeline, workdir
        self._stop = threading.Event()
        self._ticker: Optional[threading.Thread] = None
        self.engine = EmbeddedEngine(
            EngineSettings(workdir=workdir / "engine",
                           template_paths=self.templates(),
                           static_dir=str(workdir / "static")),
            sink=self.sink(), ingest_conf=ingest_opts.load([]))

    def templates(self) -> list[str]:
        raise NotImplementedError

    def sink(self) -> Any:
        raise NotImplementedError

    def wired(self) -> None:
        pass

    def start_ticker(self) -> None:
        self._ticker = threading.Thread(target=self._tick_loop,
                                        name="bench-ticker", daemon=True)
        self._ticker.start()

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK):
            self.tick()

    def tick(self) -> None:
        raise NotImplementedError

    def busy(self) -> bool:
        raise NotImplementedError

    def settle(self, settings: Settings) -> None:
        """Until nothing moved for `settle` seconds (or the timeout)."""
        deadline = self.clock.now() + settings.timeout
        quiet_since = self.clock.now()
        seen = -1
        while self.clock.now() < deadline:
            time.sleep(TICK)
            moved = len(self.timeline.heals) + len(self.timeline.decisions)
            if moved != seen or self.busy():
                seen, quiet_since = moved, self.clock.now()
            elif self.clock.now() - quiet_since >= settings.settle:
                return

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=60)
        self.engine.stop()

    def replace(self, units: list[Unit]) -> None:
        with self.engine.lock:
            self.cloud.replace(units, self.engine)

    def unit(self, key: str) -> Unit:
        group, name = key.split("/", 1)
        return Unit(self.storm.root_of(key), group, name)

    def extra(self) -> dict:
        return {}


class _TimedSink:
    """The product's in-process sink (the inbox), noting arrivals."""

    def __init__(self, inbox: Inbox, timeline: _Timeline,
                 clock: SystemClock) -> None:
        self.inbox, self.timeline, self.clock = inbox, timeline, clock

    def submit(self, request: Any) -> list:
        self.timeline.requests.append((self.clock.now(), request.unit.key,
                                       request.alarm_name, request.active))
        return self.inbox.submit(request)

    def reject(self, reason: Any, detail: str, source: str,
               delivery: Optional[str] = None) -> Any:
        return self.inbox.reject(reason, detail, source, delivery)


class _SelfHealSide(_Side):
    def sink(self) -> Any:
        self.report = Report(self.clock.now())
        self.executor = RecordingExecutor(self.clock, self.cloud,
                                          self.report,
                                          self.settings.heal_duration)
        self.ledger = Ledger(f"sqlite:///{self.workdir}/ledger.db")
        self.ledger.upgrade()
        self.locks = Locks(f"file://{self.workdir}/locks", "bench")
        self.healer = Healer(
            self.ledger, self.locks, self.executor, self.cloud.status,
            self.settings.policy, self.clock, replica="bench",
            # The service's defaults ([selfheal] workers, [mistral]
            # follow_interval).
            workers=8, follow_interval=1.0,
            observer=lambda d: self.timeline.decisions.append(
                (self.clock.now(), d)))
        self.inbox = Inbox(self.healer,
                           Journal(str(self.workdir / "inbox.jsonl")))
        self.inbox.start()
        return _TimedSink(self.inbox, self.timeline, self.clock)

    def templates(self) -> list[str]:
        return [str(REPO / "templates")]

    def tick(self) -> None:
        self.healer.tick()
        for run in self.executor.take_finished():
            self.replace(list(run.units))

    def busy(self) -> bool:
        if len(self.inbox):
            return True
        with self.ledger.transaction() as tx:
            if tx.pending_intents() or tx.open_batches():
                return True
        return False

    def stop(self) -> None:
        self.inbox.stop()
        super().stop()
        self.healer.stop()
        for run in self.executor.runs.values():
            self.timeline.heal(Heal(run.started, run.root,
                                    tuple(sorted(u.key for u in run.units))))
        self.locks.stop()

    def extra(self) -> dict:
        with self.ledger.transaction() as tx:
            held = collections.Counter(u.held_reason for u in
                                       tx.held_units())
            lost = [u.unit_key for u in _sick(tx) if not u.held_reason
                    and tx.open_intent(u.unit_key) is None]
        self.ledger.dispose()
        return {"held_at_end": dict(sorted(held.items())),
                "lost_units": len(set(lost))}


def _sick(tx: Any) -> list[Any]:
    """Units with an unanswered heal alarm."""
    from vitrage_selfheal.ledger.models import UnitRow
    return [row for row in tx.s.query(UnitRow).all()
            if tx.unanswered_alarms(row)]


class _RecordingMistral:
    """Stands for python-mistralclient's Client in the stock notifier."""

    def __init__(self, side: _StockSide) -> None:
        self.executions = self
        self._side = side

    def create(self, workflow_identifier: str = "",
               workflow_input: Optional[dict] = None,
               wf_params: Optional[dict] = None, **_kw: Any) -> dict:
        self._side.created(workflow_identifier, dict(workflow_input or {}))
        return {"id": f"stock-{len(self._side.created_inputs)}"}


class _Direct:
    """The evaluator's oslo notifier for `mistral`, delivering in-process."""

    def __init__(self, notifier: Any) -> None:
        self._notifier = notifier

    def info(self, _ctxt: dict, event_type: str, payload: dict) -> None:
        self._notifier.process_event(payload, event_type)


class _NullSink:
    def submit(self, _request: Any) -> list:
        return []

    def reject(self, *_args: Any, **_kw: Any) -> None:
        return None


class _EngineOnly(_Side):
    """Our templates and datasource, and a notifier sink that drops every
    request: the engine's own event rate, for the plugin's cost."""

    def sink(self) -> Any:
        self.notified = 0
        return self

    def submit(self, _request: Any) -> list:
        self.notified += 1
        return []

    def reject(self, *_args: Any, **_kw: Any) -> None:
        return None

    def templates(self) -> list[str]:
        return [str(REPO / "templates")]

    def tick(self) -> None:
        pass

    def busy(self) -> bool:
        return False

    def settle(self, settings: Settings) -> None:
        pass

    def extra(self) -> dict:
        return {"requests": self.notified}


class _StockSide(_Side):
    def sink(self) -> Any:
        self.created_inputs: list[tuple[float, dict]] = []
        self._running: list[tuple[float, list[Unit]]] = []
        self._lock = threading.Lock()
        return _NullSink()

    def templates(self) -> list[str]:
        return [str(STOCK_TEMPLATES)]

    def wired(self) -> None:
        from vitrage.notifier.plugins.mistral import mistral_notifier
        from vitrage.notifier.service import VitrageDefaultEventEndpoint

        # Only Vitrage's own path reacts: our notifier is not listening.
        self.engine.bus._endpoint = VitrageDefaultEventEndpoint([])
        notifier = mistral_notifier.MistralNotifier()
        notifier._client = _RecordingMistral(self)
        executor = self.engine.evaluator._action_executor
        executor.notifier.oslo_notifiers = {"mistral": _Direct(notifier)}

    def created(self, workflow: str, inputs: dict) -> None:
        now = self.clock.now()
        unresolved = any(UNRESOLVED in str(v) for v in inputs.values())
        key = f"{inputs.get('stack_id')}/{inputs.get('resource_name')}"
        units = [] if unresolved else [key]
        with self._lock:
            self.created_inputs.append((now, inputs))
            self.timeline.heal(Heal(now, str(inputs.get("root_stack_id")),
                                    tuple(units), unresolved))
            if units and key in self.storm.servers:
                self._running.append((now, [self.unit(key)]))

    def tick(self) -> None:
        now = self.clock.now()
        with self._lock:
            due = [u for at, u in self._running
                   if now - at >= self.settings.heal_duration]
            self._running = [(at, u) for at, u in self._running
                             if now - at < self.settings.heal_duration]
        for units in due:
            with contextlib.suppress(KeyError):
                self.replace(units)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._running)


def _measure(storm: Storm, settings: Settings, side: _Side,
             timeline: _Timeline) -> dict:
    heals = sorted(timeline.heals, key=lambda h: (h.at, h.stack, h.units))
    count = collections.Counter(k for h in heals for k in h.units)
    healed = set(count)
    storm_events = len(storm.events)
    engine_seconds = max(timeline.storm_done - timeline.first, 1e-9)
    last_heal = max((h.at for h in heals), default=timeline.fed_last)
    reasons = collections.Counter(d.reason.value for _t, d in
                                  timeline.decisions)
    result = {
        "executions": len(heals),
        "affected_stacks": storm.affected_stacks,
        "units_healed": len(healed & storm.affected),
        "duplicate_heals": sum(n - 1 for n in count.values() if n > 1),
        "missed_units": len(storm.must_heal - healed),
        "healed_not_required": len(healed - storm.must_heal),
        "unresolved_inputs": sum(1 for h in heals if h.unresolved)
        + len(side.engine.errors),
        "engine_errors": len(side.engine.errors),
        "last_dispatch_after_last_event_s": round(
            max(last_heal - timeline.fed_last, 0.0), 2),
        "storm_events": storm_events,
        "events_per_s": round(storm_events / engine_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "executions_per_stack_max": max(collections.Counter(
            h.stack for h in heals).values(), default=0),
        "decisions": dict(sorted(reasons.items())),
        "false_recoveries": sum(
            1 for _t, d in timeline.decisions
            if "recovered by itself" in d.detail),
        "storm_guard_lag_max_s": _storm_guard_lag(storm, settings,
                                                  timeline),
        "digest": _digest(heals, timeline),
        "arrivals": _arrivals(timeline),
        "split_stacks": _split(heals, timeline),
    }
    result.update(side.extra())
    return result


def _storm_guard_lag(storm: Storm, settings: Settings,
                     timeline: _Timeline) -> Optional[float]:
    """Per group: from the request that took it over the storm limit to
    the group's first STORM_GUARD decision; the worst group."""
    size = len(next(iter(storm.groups.values())))
    limit = settings.policy.storm_limit(size)
    crossed: dict[str, float] = {}
    seen: dict[str, set] = collections.defaultdict(set)
    for at, key, _name, active in sorted(timeline.requests):
        group = key.split("/", 1)[0]
        if active:
            seen[group].add(key)
            if len(seen[group]) > limit and group not in crossed:
                crossed[group] = at
    guarded: dict[str, float] = {}
    for at, d in timeline.decisions:
        if d.reason is Reason.STORM_GUARD and d.unit_key:
            guarded.setdefault(d.unit_key.split("/", 1)[0], at)
    lags = [guarded.get(g, float("inf")) - at for g, at in crossed.items()]
    if not lags:
        return None
    worst = max(lags)
    return None if worst == float("inf") else round(worst, 3)


def _arrivals(timeline: _Timeline) -> dict:
    """When each unit's first activation reached the notifier, from the
    first event: the engine's lag as the plugin sees it."""
    first: dict[str, float] = {}
    for at, key, _name, active in timeline.requests:
        if active:
            first.setdefault(key, at - timeline.first)
    by_stack: dict[str, list[float]] = collections.defaultdict(list)
    for key, at in first.items():
        by_stack[key.split("/", 1)[0]].append(at)
    spread = [max(v) - min(v) for v in by_stack.values()]
    return {"units": len(first),
            "last_s": round(max(first.values(), default=0.0), 2),
            "stack_spread_max_s": round(max(spread, default=0.0), 2)}


def _split(heals: list[Heal], timeline: _Timeline) -> dict:
    """Stacks healed by more than one execution: when each started and
    when their units first arrived (to see why)."""
    per = collections.defaultdict(list)
    for h in heals:
        per[h.stack].append(h)
    out = {}
    for stack, hs in sorted(per.items()):
        if len(hs) < 2:
            continue
        keys = {k for h in hs for k in h.units}
        arrived = sorted({(round(at - timeline.first, 2), k)
                          for at, k, _n, act in timeline.requests
                          if act and k in keys})
        out[stack] = {"starts": [(round(h.at - timeline.first, 2),
                                  len(h.units)) for h in hs],
                      "arrivals": arrived[:60]}
    return dict(list(out.items())[:3])


def _digest(heals: list[Heal], timeline: _Timeline) -> str:
    """What was healed together, independent of timing: equal across
    runs exactly when every stack got the same executions."""
    shape = sorted((h.stack, h.units) for h in heals)
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]
