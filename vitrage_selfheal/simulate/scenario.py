"""The scenario file of `vitrage-selfheal simulate`: a topology and a timeline.

A bad file gets a ScenarioError naming the path of the bad field.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Optional

import yaml

from vitrage_selfheal.datasources.heat.unit.server_loss import LOST_STATES
from vitrage_selfheal.simulate import events
from vitrage_selfheal.simulate import expect as expectations
from vitrage_selfheal.simulate import fields as f
from vitrage_selfheal.simulate import policy as sim_policy
from vitrage_selfheal.simulate.events import EVENT_KINDS
from vitrage_selfheal.simulate.fields import ScenarioError

__all__ = ["EVENT_KINDS", "Event", "GroupSpec", "InstanceSpec", "Scenario",
           "ScenarioError", "StackSpec", "SwitchSpec", "UnitSpec", "load",
           "parse"]


@dataclasses.dataclass(frozen=True)
class UnitSpec:
    name: str
    servers: tuple[str, ...]
    state: str = "CREATE_COMPLETE"


@dataclasses.dataclass(frozen=True)
class GroupSpec:
    name: str
    stack_id: str
    units: tuple[UnitSpec, ...]
    # The AutoScalingGroup's own bounds, as Heat would report them.
    min_size: int = 0
    max_size: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class StackSpec:
    id: str
    name: str
    groups: tuple[GroupSpec, ...]
    status: str = "CREATE_COMPLETE"
    # Heat stack tags, e.g. selfheal:exclude.
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class InstanceSpec:
    id: str
    host: str
    status: str = "ACTIVE"
    name: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class SwitchSpec:
    id: str
    hosts: tuple[str, ...]
    name: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Event:
    at: float
    kind: str
    arg: Any

    def describe(self) -> str:
        return f"{self.kind} {self.arg}"


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    hosts: tuple[str, ...]
    instances: tuple[InstanceSpec, ...]
    stacks: tuple[StackSpec, ...]
    switches: tuple[SwitchSpec, ...]
    timeline: tuple[Event, ...]
    policy: dict
    heal_duration: float = 20.0
    duration: Optional[float] = None
    project_id: str = "demo-project"
    # The expect: section, checked after the run (simulate/expect.py).
    expect: Optional[expectations.Expectations] = None


def load(path: str | pathlib.Path) -> Scenario:
    try:
        with open(path, encoding="utf-8") as stream:
            doc = yaml.safe_load(stream)
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text: {exc.reason} at byte "
                            f"{exc.start}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    except (RecursionError, ValueError) as exc:
        # PyYAML's constructors: nesting past Python's stack, an integer
        # of more digits than int() takes.
        raise ScenarioError(f"{path}: cannot be read: "
                            f"{type(exc).__name__}: {exc}") from None
    return parse(doc, str(path))


TOP_KEYS = ("name", "heal_duration", "policy", "topology", "timeline",
            "duration", "project_id", "expect")


def parse(doc: Any, where: str = "scenario") -> Scenario:
    """A scenario from its YAML document, checked strictly: unknown keys,
    wrong types, unknown ids and impossible policies are ScenarioErrors.

    Also refused, as a run that would show nothing: a timeline without
    events unless `duration` is given (an idle topology watched that long
    is plainly intended). A topology without stacks is allowed (the run
    shows what the templates deduce, heals nothing), not one without
    events as well.
    """
    top = f.mapping(doc, where, TOP_KEYS)
    name = f.optional_name(top, "name", where, where)
    heal_duration = f.number(top.get("heal_duration", 20.0),
                             f"{where}.heal_duration")
    project_id = f.optional_name(top, "project_id", where, "demo-project")
    tw = f"{where}.topology"
    topo = f.mapping(top.get("topology", {}), tw,
                     ("hosts", "instances", "stacks", "switches"))
    hosts = f.names(topo.get("hosts", []), f"{tw}.hosts")
    f.unique(hosts, f"{tw}.hosts", "host")
    instances = tuple(_instance(i, f"{tw}.instances[{n}]", hosts)
                      for n, i in enumerate(f.sequence(
                          topo.get("instances", []), f"{tw}.instances")))
    f.unique((i.id for i in instances), f"{tw}.instances", "instance id")
    known = {i.id for i in instances}
    stacks = tuple(_stack(s, f"{tw}.stacks[{n}]", known)
                   for n, s in enumerate(f.sequence(topo.get("stacks", []),
                                                    f"{tw}.stacks")))
    _unique_topology(stacks, tw)
    switches = tuple(_switch(s, f"{tw}.switches[{n}]", hosts)
                     for n, s in enumerate(f.sequence(
                         topo.get("switches", []), f"{tw}.switches")))
    f.unique((s.id for s in switches), f"{tw}.switches", "switch id")
    policy_values = dict(f.mapping(top.get("policy", {}), f"{where}.policy"))
    policy = sim_policy.build(policy_values, f"{where}.policy")
    duration = (None if top.get("duration") is None else
                f.number(top["duration"], f"{where}.duration"))
    ids = events.Known(
        hosts=frozenset(hosts), instances=frozenset(known),
        unit_servers=frozenset(s for st in stacks for g in st.groups
                               for u in g.units for s in u.servers),
        stacks=frozenset(s.id for s in stacks),
        groups={g.stack_id: s.id for s in stacks for g in s.groups},
        units=frozenset(f"{g.stack_id}/{u.name}" for s in stacks
                        for g in s.groups for u in g.units),
        switches=frozenset(s.id for s in switches),
        hook=bool(policy.pre_replace_hook))
    timeline = _timeline(top, where, ids, duration)
    expect = expectations.parse(top.get("expect"), f"{where}.expect", ids)
    return Scenario(
        name=name, hosts=hosts,
        instances=instances, stacks=stacks, switches=switches,
        timeline=timeline, policy=policy_values,
        heal_duration=heal_duration, duration=duration,
        project_id=project_id,
        expect=expect)


def _timeline(top: dict, where: str, ids: events.Known,
              duration: Optional[float]) -> tuple[Event, ...]:
    tw = f"{where}.timeline"
    raw = f.sequence(top.get("timeline", []), tw)
    if not raw and duration is None:
        raise ScenarioError(f"{tw}: no events: the run would show nothing "
                            f"(to watch the topology idle, set duration)")
    parsed = [_event(e, f"{tw}[{n}]", duration)
              for n, e in enumerate(raw)]
    # Stable: events at one time keep the file's order, as the run does.
    order = sorted(range(len(parsed)), key=lambda n: parsed[n][0].at)
    raised: set[tuple[str, str]] = set()
    for n in order:
        event, at = parsed[n]
        events.check(event.kind, event.arg, at, ids, raised)
    return tuple(parsed[n][0] for n in order)


def _unique_topology(stacks: tuple[StackSpec, ...], where: str) -> None:
    f.unique((s.id for s in stacks), f"{where}.stacks", "stack id")
    f.unique((g.stack_id for s in stacks for g in s.groups),
             f"{where}.stacks", "group stack_id")
    f.unique((srv for s in stacks for g in s.groups for u in g.units
              for srv in u.servers), f"{where}.stacks",
             "server (a server belongs to one unit)")


def _instance(doc: Any, where: str, hosts: tuple[str, ...]) -> InstanceSpec:
    d = f.mapping(doc, where, ("id", "host", "status", "name"))
    host = f.required(d, "host", where)
    if host not in hosts:
        raise ScenarioError(f"{where}.host: {host!r} is not in "
                            f"topology.hosts")
    status = f.optional_name(d, "status", where, "ACTIVE")
    f.one_of(status, events.NOVA_STATUSES, f"{where}.status")
    return InstanceSpec(id=f.required(d, "id", where), host=host,
                        status=status,
                        name=f.optional_name(d, "name", where))


def _unit(doc: Any, where: str, instances: set[str]) -> UnitSpec:
    d = f.mapping(doc, where, ("name", "servers", "state"))
    servers = f.names(d.get("servers", []), f"{where}.servers")
    for s in servers:
        if s not in instances:
            raise ScenarioError(f"{where}.servers: {s!r} is not in "
                                f"topology.instances")
    state = f.optional_name(d, "state", where, "CREATE_COMPLETE")
    if state not in LOST_STATES:
        events.heat_status(state, f"{where}.state")
    return UnitSpec(f.required(d, "name", where), servers, state)


def _group(doc: Any, where: str, instances: set[str]) -> GroupSpec:
    d = f.mapping(doc, where, ("name", "stack_id", "units", "min_size",
                               "max_size"))
    units = tuple(_unit(u, f"{where}.units[{m}]", instances)
                  for m, u in enumerate(f.sequence(d.get("units", []),
                                                   f"{where}.units")))
    f.unique((u.name for u in units), f"{where}.units", "unit name")
    min_size = f.integer(d.get("min_size", 0), f"{where}.min_size")
    max_size = (None if d.get("max_size") is None else
                f.integer(d["max_size"], f"{where}.max_size"))
    if max_size is not None and max_size < min_size:
        raise ScenarioError(f"{where}.max_size: {max_size} is below "
                            f"min_size {min_size}")
    if max_size is not None and len(units) > max_size:
        raise ScenarioError(f"{where}.units: {len(units)} units, more than "
                            f"max_size {max_size}")
    return GroupSpec(f.required(d, "name", where),
                     f.required(d, "stack_id", where), units, min_size,
                     max_size)


def _stack(doc: Any, where: str, instances: set[str]) -> StackSpec:
    d = f.mapping(doc, where, ("id", "name", "groups", "status", "tags"))
    groups = tuple(_group(g, f"{where}.groups[{n}]", instances)
                   for n, g in enumerate(f.sequence(d.get("groups", []),
                                                    f"{where}.groups")))
    tags = f.sequence(d.get("tags", []), f"{where}.tags")
    if not all(isinstance(t, str) for t in tags):
        raise ScenarioError(f"{where}.tags: expected strings, got {tags!r}")
    stack_id = f.required(d, "id", where)
    status = f.optional_name(d, "status", where, "CREATE_COMPLETE")
    events.heat_status(status, f"{where}.status")
    return StackSpec(id=stack_id,
                     name=f.optional_name(d, "name", where, stack_id),
                     groups=groups, status=status, tags=tuple(tags))


def _switch(doc: Any, where: str, hosts: tuple[str, ...]) -> SwitchSpec:
    d = f.mapping(doc, where, ("id", "hosts", "name"))
    attached = f.names(d.get("hosts", []), f"{where}.hosts")
    for h in attached:
        if h not in hosts:
            raise ScenarioError(f"{where}.hosts: {h!r} is not in "
                                f"topology.hosts")
    return SwitchSpec(f.required(d, "id", where), attached,
                      f.optional_name(d, "name", where))


def _event(doc: Any, where: str,
           duration: Optional[float]) -> tuple[Event, str]:
    d = dict(f.mapping(doc, where))
    at = f.number(d.pop("at", None), f"{where}.at")
    if duration is not None and at > duration:
        raise ScenarioError(f"{where}.at: {at:g} is after duration "
                            f"{duration:g}: the event would never happen")
    if len(d) != 1:
        raise ScenarioError(
            f"{where}: needs 'at' and exactly one of "
            f"{', '.join(sorted(EVENT_KINDS))}; got {sorted(d)}")
    (kind, arg), = d.items()
    if kind not in EVENT_KINDS:
        raise ScenarioError(f"{where}: unknown event {kind!r}; known: "
                            f"{', '.join(sorted(EVENT_KINDS))}")
    return Event(at, kind, arg), where
