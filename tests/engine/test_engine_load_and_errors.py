"""The embedded engine's first load and its error containment, on the REAL
Vitrage 15 engine: the anchored evaluator start finds what Vitrage's full
pass finds; a failing evaluator action, an action stamped at microsecond
0 and a re-sent Doctor host-down lose nothing; a unit the datasource marks
SERVER_ERROR is healed at once, unless its host is down."""

from __future__ import annotations

import datetime
import pathlib
from typing import Any

import pytest

from vitrage_selfheal import metrics, paths
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.datasources.heat.unit import HEAT_UNIT_DATASOURCE
from vitrage_selfheal.engine import embedded
from vitrage_selfheal.engine.config import EngineSettings
from vitrage_selfheal.engine.embedded import EmbeddedEngine
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.simulate.cloud import SimulatedCloud
from vitrage_selfheal.simulate.scenario import (
    Event,
    GroupSpec,
    InstanceSpec,
    Scenario,
    StackSpec,
    SwitchSpec,
    UnitSpec,
)

pytestmark = pytest.mark.engine
pytest.importorskip("vitrage")

HOST_DOWN = "selfheal.heal: host down"
HOSTS = ("h0", "h1", "h2", "h3")


class _Sink:
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def submit(self, request: Any) -> list:
        self.requests.append(request)
        return []

    def reject(self, reason: Any, detail: str, source: str,
               delivery: Any = None) -> None:
        return None


def _scenario(stacks: int = 3, units: int = 4) -> Scenario:
    instances, specs = [], []
    for s in range(stacks):
        members = []
        for m in range(units):
            server = f"vm-{s}-{m}"
            instances.append(InstanceSpec(server, HOSTS[(s + m) % 4]))
            members.append(UnitSpec(f"u{m}", (server,)))
        specs.append(StackSpec(f"stack-{s}", f"stack-{s}", (
            GroupSpec("asg", f"group-{s}", tuple(members)),)))
    return Scenario(name="load", hosts=HOSTS, instances=tuple(instances),
                    stacks=tuple(specs),
                    switches=(SwitchSpec("sw-1", ("h3",), "tor-1"),),
                    timeline=(), policy={})


@pytest.fixture
def make(tmp_path: pathlib.Path):
    """(engine, cloud, sink, counters), engines stopped afterwards."""
    started: list[EmbeddedEngine] = []

    def _make(name: str = "e") -> tuple[EmbeddedEngine, SimulatedCloud,
                                        _Sink, metrics.Counters]:
        work = tmp_path / name
        sink, counters = _Sink(), metrics.Counters()
        engine = EmbeddedEngine(
            EngineSettings(workdir=work / "engine",
                           template_paths=[str(paths.templates_dir())],
                           static_dir=str(work / "static")),
            sink=sink, ingest_conf=ingest_opts.load([]), counters=counters)
        engine.start()
        started.append(engine)
        cloud = SimulatedCloud(_scenario(), work / "static",
                               FakeClock(1_767_225_600.0))
        return engine, cloud, sink, counters

    yield _make
    for engine in started:
        engine.stop()


def _deduced(engine: EmbeddedEngine) -> set[tuple[str, str]]:
    """Active deduced alarms as (name, resource id)."""
    out = set()
    for alarm in engine.active_alarms():
        if alarm.get("vitrage_type") != "vitrage":
            continue
        resource = engine.graph.get_vertex(alarm.get("vitrage_resource_id"))
        out.add((alarm.get("name"), resource.get("id")))
    return out


def _causes(engine: EmbeddedEngine) -> set[tuple[str, str]]:
    return {(alarm.get("name"), cause.get("name"))
            for alarm in engine.active_alarms()
            if alarm.get("vitrage_type") == "vitrage"
            for cause in engine.causes_of(alarm.vertex_id)}


def _faults(cloud: SimulatedCloud, engine: EmbeddedEngine) -> None:
    """Something for every template: host down, a server in ERROR, one
    deleted, an application alarm, the switch under h3 down."""
    for kind, arg in (
            ("host_down", "h0"),
            ("instance_state", {"id": "vm-1-0", "status": "ERROR"}),
            ("instance_deleted", "vm-2-1"),
            ("alarm", {"name": "selfheal_app_unhealthy",
                       "resource": "vm-0-2"}),
            ("alarm", {"name": "web_selfheal_load_high",
                       "resource": "vm-1-2"}),
            ("switch_down", "sw-1")):
        cloud.apply(Event(0.0, kind, arg), engine)


def _loaded_with_faults(make, name: str, anchored: bool
                        ) -> tuple[set, set, int]:
    engine, cloud, _sink, _counters = make(name)
    engine.anchored_start = anchored
    # The faults arrive before the evaluator starts: the start pass must
    # find every match on its own.
    with engine.initial_load():
        cloud.load(engine)
        _faults(cloud, engine)
    assert engine.evaluator.enabled
    result = _deduced(engine), _causes(engine), len(engine.errors)
    engine.stop()
    return result


def test_anchored_start_finds_what_the_full_pass_finds(make):
    full = _loaded_with_faults(make, "full", anchored=False)
    anchored = _loaded_with_faults(make, "anchored", anchored=True)
    names = {name for name, _resource in full[0]}
    # Every template has something to say, so the comparison means much.
    assert {HOST_DOWN, "selfheal.heal: server lost",
            "selfheal.heal: application unhealthy",
            "selfheal.suppress: network root cause",
            "selfheal.scale_out: high load"} <= names
    assert anchored == full
    assert full[2] == 0


def test_anchored_start_equals_evaluating_as_events_arrive(make):
    engine, cloud, _sink, _counters = make("live")
    cloud.load(engine)       # a fresh engine: the anchored start
    _faults(cloud, engine)   # evaluated as they arrive
    live = _deduced(engine), _causes(engine), len(engine.errors)
    engine.stop()
    assert live == _loaded_with_faults(make, "anchored", anchored=True)


def _units_on(cloud: SimulatedCloud, host: str) -> set[str]:
    return {f"{u.root}/{u.group_stack}/{u.name}"
            for u in cloud.units.values()
            if cloud.instances[u.servers[0]]["host"] == host}


def test_one_failing_evaluator_action_does_not_drop_the_others(make,
                                                               monkeypatch):
    engine, cloud, _sink, counters = make()
    cloud.load(engine)
    process = engine.processor.process_event
    failed: list[dict] = []

    def fail_first_action(event: dict) -> Any:
        if event.get("vitrage_entity_type") == "vitrage" and not failed:
            failed.append(event)
            raise RuntimeError("injected")
        return process(event)

    monkeypatch.setattr(engine.processor, "process_event", fail_first_action)
    cloud.apply(Event(0.0, "host_down", "h0"), engine)
    assert failed
    raised = {r for n, r in _deduced(engine) if n == HOST_DOWN}
    # One of the host's three units lost its alarm to the injected
    # failure; the other actions queued with it all ran.
    assert len(_units_on(cloud, "h0") - raised) <= 1
    assert len(raised) >= len(_units_on(cloud, "h0")) - 1 >= 2
    assert counters.get(embedded.ACTION_ERRORS) == 1
    assert counters.get(embedded.EVENT_ERRORS) == 0
    assert engine.errors == ["RuntimeError: injected"]


def test_actions_stamped_at_microsecond_zero_are_processed(make):
    from oslo_utils import timeutils

    engine, cloud, _sink, counters = make()
    cloud.load(engine)
    # Vitrage stamps actions with str(utcnow()): "2026-01-01 00:00:00",
    # without the ".%f" its own evaluator transformer parses with.
    timeutils.set_time_override(datetime.datetime(2026, 1, 1, 0, 0, 0))
    try:
        cloud.apply(Event(0.0, "host_down", "h1"), engine)
    finally:
        timeutils.clear_time_override()
    assert {r for n, r in _deduced(engine) if n == HOST_DOWN} == \
        _units_on(cloud, "h1")
    assert counters.get(embedded.ACTION_ERRORS) == 0
    assert engine.errors == []


def test_resent_host_down_is_neither_an_error_nor_a_loss(make):
    engine, cloud, sink, counters = make()
    cloud.load(engine)
    units = _units_on(cloud, "h2")
    for _ in range(3):   # Doctor re-sends while the host stays down
        cloud.apply(Event(0.0, "host_down", "h2"), engine)
        assert {r for n, r in _deduced(engine) if n == HOST_DOWN} == units
    assert engine.errors == []
    assert counters.get(embedded.EVENT_ERRORS) == 0
    # Once up, every alarm is withdrawn.
    cloud.apply(Event(0.0, "host_up", "h2"), engine)
    assert not {r for n, r in _deduced(engine) if n == HOST_DOWN}
    assert engine.errors == []


def test_initial_load_on_a_loaded_engine_keeps_the_evaluator_on(make):
    engine, cloud, _sink, _counters = make()
    cloud.load(engine)
    with engine.initial_load():
        assert engine.evaluator.enabled
        cloud.apply(Event(0.0, "host_down", "h3"), engine)
        # Evaluated at once, not at the end of the block.
        assert {r for n, r in _deduced(engine) if n == HOST_DOWN}


def test_the_lookup_answers_as_the_repository(make):
    from vitrage_selfheal.engine.evaluator_start import _Lookup

    engine, cloud, _sink, _counters = make()
    cloud.load(engine)
    _faults(cloud, engine)
    lookup = _Lookup(engine.repository)
    for vertex in engine.graph.get_vertices():
        assert [(id(e), id(s)) for e, s in lookup.scenarios(vertex)] == [
            (id(e), id(s)) for e, s in
            engine.repository.get_scenarios_by_vertex(vertex)]


def test_a_failing_anchored_start_falls_back_to_the_full_pass(make,
                                                              monkeypatch):
    from vitrage_selfheal.engine import evaluator_start

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no view")

    monkeypatch.setattr(evaluator_start, "AnchoredScenarios", broken)
    engine, cloud, _sink, counters = make()
    assert counters.get(embedded.EVENT_ERRORS) == 0
    cloud.load(engine)
    assert engine.evaluator.enabled
    assert engine.errors == ["RuntimeError: no view"]
    assert counters.get(embedded.EVENT_ERRORS) == 1
    cloud.apply(Event(0.0, "host_down", "h1"), engine)
    assert {r for n, r in _deduced(engine) if n == HOST_DOWN} == \
        _units_on(cloud, "h1")


# A unit the heat.unit driver marked SERVER_ERROR / SERVER_STOPPED (from
# Nova's instance updates) is healed by the template at once.
SERVER_LOST = "selfheal.heal: server lost"


def _unit_in(cloud, vertex_id: str, state: str) -> dict:
    sim, = [u for u in cloud.units.values()
            if f"{u.root}/{u.group_stack}/{u.name}" == vertex_id]
    event = cloud.unit_event(sim)
    event["state"] = state
    event["state_reason"] = f"server {sim.servers[0]} is {state}"
    return event


def test_the_template_heals_a_broken_unit_unless_its_host_is_down(make):
    from vitrage.common.constants import DatasourceAction

    engine, cloud, _sink, _counters = make()
    cloud.load(engine)
    on_h1 = sorted(_units_on(cloud, "h1"))
    on_h2 = sorted(_units_on(cloud, "h2"))
    broken, quiet = on_h1[0], on_h2[0]
    engine.snapshot(HEAT_UNIT_DATASOURCE,
                    [_unit_in(cloud, broken, "SERVER_ERROR")],
                    DatasourceAction.UPDATE)
    assert (SERVER_LOST, broken) in _deduced(engine)
    # The host is down first: 'host down' is the heal, no second one.
    cloud.apply(Event(0.0, "host_down", "h2"), engine)
    engine.snapshot(HEAT_UNIT_DATASOURCE,
                    [_unit_in(cloud, quiet, "SERVER_STOPPED")],
                    DatasourceAction.UPDATE)
    deduced = _deduced(engine)
    assert ("selfheal.heal: host down", quiet) in deduced
    assert (SERVER_LOST, quiet) not in deduced
    # Serving again: the heal is withdrawn.
    engine.snapshot(HEAT_UNIT_DATASOURCE,
                    [_unit_in(cloud, broken, "CREATE_COMPLETE")],
                    DatasourceAction.UPDATE)
    assert (SERVER_LOST, broken) not in _deduced(engine)
    assert engine.errors == []
