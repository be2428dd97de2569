"""Runs a scenario through the real engine and the real decision pipeline.

Mistral and Heat are replaced by a recording executor: an execution takes
`heal_duration` simulated seconds, then succeeds (or fails when the
scenario says so) and the simulated cloud replaces its units. Time is a
FakeClock stepped by the runner: a run never sleeps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import pathlib
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional

from vitrage_selfheal import logs, operator
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.base import (
    HOOK_STEP,
    ExecState,
    Execution,
    PreReplaceHook,
)
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import ScalePlan, Unit
from vitrage_selfheal.simulate import ledger_file
from vitrage_selfheal.simulate import policy as sim_policy
from vitrage_selfheal.simulate.cloud import SimulatedCloud
from vitrage_selfheal.simulate.report import Report
from vitrage_selfheal.simulate.scenario import Scenario

# Seconds of real time between two progress lines of a long run.
PROGRESS_EVERY = 10.0
EPOCH = 1_767_225_600.0   # 2026-01-01T00:00:00Z: fixed, for stable output
STEP = 1.0


@dataclasses.dataclass
class _Run:
    id: str
    root: str
    units: tuple[Unit, ...]
    started: float
    outcome: ExecState
    state: ExecState = ExecState.RUNNING
    scale: Optional[ScalePlan] = None
    # A scale's members as Heat changes them, fixed when it succeeds.
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # A ladder step other than replace (reboot, rebuild); fencing first.
    step: Optional[str] = None
    fence: bool = False
    # Its pre-replace hook answers ABANDON (scenario: hook_abandons).
    abandoned: bool = False

    @property
    def healed(self) -> list[Unit]:
        """The units replaced (a scale-in's victims are removed instead;
        a reboot or rebuild replaces nothing)."""
        if self.step is not None:
            return []
        victims = self.scale.victims if self.scale else ()
        return [u for u in self.units if u.key not in victims]


class RecordingExecutor:
    """The Dispatcher of a simulation: records, waits, finishes."""

    def __init__(self, clock: FakeClock, cloud: SimulatedCloud,
                 report: Report, duration: float) -> None:
        self.clock, self.cloud, self.report = clock, cloud, report
        self.duration = duration
        self.runs: dict[str, _Run] = {}
        self.finished: list[_Run] = []

    def start(self, execution_id: str, root_stack_id: str,
              units: Sequence[Unit], reason: str,
              scale: Optional[ScalePlan] = None,
              step: Optional[str] = None,
              fence: Optional[float] = None,
              hook: Optional[PreReplaceHook] = None) -> Execution:
        run = self.runs.get(execution_id)
        if run is None:
            fails = root_stack_id in self.cloud.failing
            self.cloud.failing.discard(root_stack_id)
            abandons = hook is not None and \
                root_stack_id in self.cloud.abandoning
            self.cloud.abandoning.discard(root_stack_id)
            run = _Run(execution_id, root_stack_id, tuple(units),
                       self.clock.now(),
                       ExecState.ERROR if fails else ExecState.SUCCESS,
                       scale=scale, step=step, fence=fence is not None,
                       abandoned=abandons)
            if abandons:
                run.outcome = ExecState.ERROR
            self.runs[execution_id] = run
            if step is None:
                # A reboot or rebuild is Nova's: Heat's stack stays idle.
                self.cloud.stack_status[root_stack_id] = \
                    "UPDATE_IN_PROGRESS"
            what = "start" + (f" {step}" if step else "") + \
                (" (fencing first)" if run.fence else "")
            self.report.execution(self.clock.now(), what, run.root,
                                  [u.key for u in run.units])
        return Execution(run.id, run.state)

    def cancel(self, execution_id: str, reason: str) -> Execution:
        run = self.runs.get(execution_id)
        if run is None:
            return Execution(execution_id, ExecState.MISSING)
        if run.state is ExecState.RUNNING:
            run.state = ExecState.ERROR
            self.cloud.stack_status[run.root] = "UPDATE_FAILED"
            self.report.execution(self.clock.now(), "cancelled", run.root,
                                  [u.key for u in run.units])
        return Execution(run.id, run.state, state_info=reason)

    def get(self, execution_id: str) -> Execution:
        run = self.runs.get(execution_id)
        if run is None:
            return Execution(execution_id, ExecState.MISSING)
        if run.state is ExecState.RUNNING and \
                self.clock.now() - run.started >= self.duration:
            run.state = run.outcome
            ok = run.state is ExecState.SUCCESS
            if run.step is None:
                self.cloud.stack_status[run.root] = \
                    "UPDATE_COMPLETE" if ok else "UPDATE_FAILED"
            self.report.execution(self.clock.now(),
                                  "success" if ok else "error", run.root,
                                  [u.key for u in run.units])
            if ok:
                if run.scale is not None:
                    added, removed = self.cloud.plan_members(run.scale)
                    run.added, run.removed = tuple(added), tuple(removed)
                self.finished.append(run)
        output: dict = {}
        if run.state is ExecState.SUCCESS and run.step is not None:
            output = {"result": {"step": run.step, "failed": [
                {"unit_key": u.key, "message": "a server is still ERROR"}
                for u in self.cloud.unremedied(run.units)]}}
        elif run.state is ExecState.ERROR and run.abandoned:
            output = {"failure": {"step": HOOK_STEP, "message":
                                  "the pre-replace hook answered ABANDON"}}
        elif run.state is ExecState.ERROR:
            output = {"failure": {"step": "update_stack",
                                  "stack_status": "UPDATE_FAILED",
                                  "message": "failure injected by scenario"}}
        elif run.state is ExecState.SUCCESS and run.scale is not None:
            output = {"result": {
                "size_after": run.scale.target,
                "added": [{"stack_id": k.split("/", 1)[0],
                           "resource_name": k.split("/", 1)[1],
                           "physical_id": None} for k in run.added],
                "removed": list(run.removed)}}
        return Execution(run.id, run.state, output)

    def take_finished(self) -> list[_Run]:
        done, self.finished = self.finished, []
        return done


def policy_of(scenario: Scenario) -> Policy:
    """The scenario's `policy:` read as [selfheal_policy] is."""
    return sim_policy.build(scenario.policy, "scenario.policy")


def run(scenario: Scenario, template_paths: Sequence[str],
        workdir: Optional[pathlib.Path] = None,
        ledger_path: Optional[pathlib.Path] = None,
        progress: Optional[Callable[[str], None]] = None) -> Report:
    """Run `scenario`; with `ledger_path`, the run's SQLite ledger is kept
    there (a new file), the simulated clock's end recorded in it.
    `progress` is told how far the run is every PROGRESS_EVERY seconds of
    real time (a big scenario runs for minutes)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="selfheal-sim-") as tmp:
            return run(scenario, template_paths, pathlib.Path(tmp),
                       ledger_path, progress)
    from vitrage_selfheal.engine.config import EngineSettings
    from vitrage_selfheal.engine.embedded import EmbeddedEngine

    clock = FakeClock(EPOCH)
    report = Report(EPOCH)
    cloud = SimulatedCloud(scenario, workdir / "static", clock)
    executor = RecordingExecutor(clock, cloud, report, scenario.heal_duration)
    ledger = Ledger(f"sqlite:///{ledger_path or workdir / 'ledger.db'}")
    ledger.upgrade()
    locks = Locks(f"file://{workdir}/locks", "simulate")
    healer = Healer(ledger, locks, executor, cloud.status,
                    policy_of(scenario), clock, replica="simulate",
                    groups=cloud.group_info,
                    observer=lambda d: report.decision(clock.now(), d))
    sink = _ReportingSink(healer)
    engine = EmbeddedEngine(
        EngineSettings(workdir=workdir / "engine",
                       template_paths=list(template_paths),
                       static_dir=str(workdir / "static")),
        sink=sink, ingest_conf=ingest_opts.load([]))
    try:
        _vitrage_time(clock.now())
        with _no_aodh_api():
            engine.start()
        watcher = sink.watcher = _AlarmWatcher(engine, report, clock)
        cloud.load(engine)
        watcher.collect()
        _loop(scenario, cloud, engine, healer, executor, watcher, clock,
              report, progress)
        ledger_file.record_now(ledger, clock.now())
    finally:
        engine.stop()
        locks.stop()
        ledger.dispose()
        _vitrage_time(None)
    report.finish(executor.runs.values())
    return report


def _loop(scenario: Scenario, cloud: SimulatedCloud, engine: Any,
          healer: Healer, executor: RecordingExecutor, watcher: Any,
          clock: FakeClock, report: Report,
          progress: Optional[Callable[[str], None]] = None) -> None:
    pending = list(scenario.timeline)
    told = time.monotonic()
    last = pending[-1].at if pending else 0.0
    end = scenario.duration if scenario.duration is not None else \
        last + 3 * scenario.heal_duration + 3 * healer.policy\
        .coalesce_window + 10
    elapsed = 0.0
    while elapsed <= end:
        while pending and pending[0].at <= elapsed:
            event = pending.pop(0)
            report.event(clock.now(), event.describe())
            cloud.apply(event, engine)
            if event.kind == "scale":
                healer.scale(cloud.scale_request(event.arg))
            if event.kind == "shadow":
                on, stack = cloud.shadow_switch(event.arg)
                report.note(clock.now(), operator.shadow(
                    healer.ledger, clock.now(), on, stack, "scenario"))
            watcher.collect()
        healer.tick()
        for finished in executor.take_finished():
            if finished.step is not None:
                healed = [u for u in finished.units
                          if u not in cloud.unremedied(finished.units)]
                for line in cloud.remedied(healed, finished.step, engine):
                    report.note(clock.now(), f"Nova {line}")
            if finished.fence:
                report.note(clock.now(), "Nova stopped (fenced) the old "
                            "servers before Heat replaced them")
            for line in cloud.replace(finished.healed, engine):
                report.note(clock.now(), f"Heat replaced {line}")
            for line in cloud.resize(list(finished.added),
                                     list(finished.removed), engine):
                report.note(clock.now(), f"Heat {line}")
            watcher.collect()
        elapsed += STEP
        _vitrage_time(clock.advance(STEP))
        if progress is not None and \
                time.monotonic() - told >= PROGRESS_EVERY:
            told = time.monotonic()
            progress(f"simulated {elapsed:.0f} of {end:.0f} s, "
                     f"{len(scenario.timeline) - len(pending)} of "
                     f"{len(scenario.timeline)} events, "
                     f"{len(report.decisions())} decisions")


class _ReportingSink:
    """The healer as the notifier's sink, reporting each deduced alarm
    before the decisions it leads to."""

    def __init__(self, healer: Healer) -> None:
        self.healer = healer
        self.watcher: Optional[_AlarmWatcher] = None

    def submit(self, request: Any) -> list:
        if self.watcher is not None:
            self.watcher.collect()
        return self.healer.submit(request)

    def reject(self, reason: Any, detail: str, source: str,
               delivery: Optional[str] = None) -> Any:
        return self.healer.reject(reason, detail, source, delivery)


def _vitrage_time(now: Optional[float]) -> None:
    """Vitrage stamps what it processes with oslo's utcnow: the simulated
    clock's time, so that the plugin's ordering by Vitrage's timestamps
    sees the simulated timeline (not the real clock, years away); None
    gives the real clock back."""
    from oslo_utils import timeutils

    if now is None:
        timeutils.clear_time_override()
    else:
        timeutils.set_time_override(datetime.datetime.fromtimestamp(
            now, datetime.timezone.utc).replace(tzinfo=None))


def _no_aodh_api() -> contextlib.AbstractContextManager[None]:
    """There is no Aodh API in a simulation: Vitrage's Aodh driver logs a
    traceback when it tries to cache existing alarms at start. Its push
    path, which simulations use, does not need that cache."""
    return logs.quiet("vitrage.datasources.aodh.driver")


class _AlarmWatcher:
    """Turns the engine's deduced-alarm notifications, and the errors it
    caught, into report lines."""

    def __init__(self, engine: Any, report: Report, clock: FakeClock) -> None:
        self.engine, self.report, self.clock = engine, report, clock
        self._seen = 0
        self._errors = 0

    def collect(self) -> None:
        for text in self.engine.errors[self._errors:]:
            self.report.engine_error(self.clock.now(), text)
        self._errors = len(self.engine.errors)
        sent = self.engine.bus.sent
        for event_type, payload in sent[self._seen:]:
            if not event_type.startswith("vitrage.deduced_alarm."):
                continue
            resource = payload.get("resource") or {}
            get = resource.get if hasattr(resource, "get") else dict().get
            causes = []
            if event_type.endswith(".activate"):
                causes = [self._describe(v) for v in
                          self.engine.causes_of(payload.get("vitrage_id"))]
            self.report.deduced(self.clock.now(),
                                event_type.rsplit(".", 1)[1],
                                str(payload.get("name")),
                                f"{get('vitrage_type')} {get('id')}", causes)
        self._seen = len(sent)

    def _describe(self, vertex: Any) -> str:
        target = self.engine.graph.get_vertex(
            vertex.get("vitrage_resource_id")) if vertex.get(
                "vitrage_resource_id") else None
        where = (f" on {target.get('vitrage_type')} {target.get('id')}"
                 if target is not None else "")
        return f"{vertex.get('name')}{where}"
