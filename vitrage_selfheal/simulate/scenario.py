"""The scenario file of `vitrage-selfheal simulate`: a topology and a timeline.

A bad file gets a ScenarioError naming the path of the bad field.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Any, Optional

import yaml

EVENT_KINDS = {
    "host_down": "host name: Doctor reports the host down",
    "host_up": "host name: Doctor reports the host up again",
    "instance_state": "{id, status}: a Nova state change (ERROR, SHUTOFF…)",
    "instance_deleted": "instance id: deleted out of band",
    "instance_broken": "instance id: goes ERROR and stays so through "
                       "reboots and rebuilds",
    "alarm": "{name, resource, severity?, type?}: an Aodh alarm fires",
    "alarm_clear": "{name, resource}: the Aodh alarm is OK again",
    "switch_down": "switch id: the static switch goes down",
    "switch_up": "switch id: the switch is back",
    "stack_status": "{stack, status}: e.g. a scaling action running",
    "heal_fails": "stack id: the next heal execution of it fails",
    "hook_abandons": "stack id: the pre-replace hook answers ABANDON to "
                     "its next heal (policy pre_replace_hook set)",
    "scale": "{stack, group, by}: an operator's `vitrage-selfheal scale` "
             "(group: the group's stack_id)",
    "shadow": "{enabled, stack?}: `vitrage-selfheal shadow on|off "
              "[--stack]`",
}


class ScenarioError(ValueError):
    pass


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


def parse(doc: Any, where: str = "scenario") -> Scenario:
    top = _mapping(doc, where)
    topo = _mapping(top.get("topology", {}), f"{where}.topology")
    hosts = tuple(str(h) for h in _list(topo.get("hosts", []),
                                        f"{where}.topology.hosts"))
    instances = tuple(_instance(i, f"{where}.topology.instances[{n}]", hosts)
                      for n, i in enumerate(_list(
                          topo.get("instances", []),
                          f"{where}.topology.instances")))
    known = {i.id for i in instances}
    stacks = tuple(_stack(s, f"{where}.topology.stacks[{n}]", known)
                   for n, s in enumerate(_list(topo.get("stacks", []),
                                               f"{where}.topology.stacks")))
    switches = tuple(_switch(s, f"{where}.topology.switches[{n}]", hosts)
                     for n, s in enumerate(_list(
                         topo.get("switches", []),
                         f"{where}.topology.switches")))
    timeline = tuple(_event(e, f"{where}.timeline[{n}]")
                     for n, e in enumerate(_list(top.get("timeline", []),
                                                 f"{where}.timeline")))
    policy = _mapping(top.get("policy", {}), f"{where}.policy")
    return Scenario(
        name=str(top.get("name", where)), hosts=hosts, instances=instances,
        stacks=stacks, switches=switches,
        timeline=tuple(sorted(timeline, key=lambda e: e.at)),
        policy=dict(policy),
        heal_duration=_number(top.get("heal_duration", 20.0),
                              f"{where}.heal_duration"),
        duration=(None if top.get("duration") is None else
                  _number(top["duration"], f"{where}.duration")),
        project_id=str(top.get("project_id", "demo-project")))


def _instance(doc: Any, where: str, hosts: tuple[str, ...]) -> InstanceSpec:
    d = _mapping(doc, where)
    host = _required(d, "host", where)
    if host not in hosts:
        raise ScenarioError(f"{where}.host: {host!r} is not in "
                            f"topology.hosts")
    return InstanceSpec(id=_required(d, "id", where), host=host,
                        status=str(d.get("status", "ACTIVE")),
                        name=d.get("name"))


def _stack(doc: Any, where: str, instances: set[str]) -> StackSpec:
    d = _mapping(doc, where)
    groups = []
    for n, g in enumerate(_list(d.get("groups", []), f"{where}.groups")):
        gw = f"{where}.groups[{n}]"
        gd = _mapping(g, gw)
        units = []
        for m, u in enumerate(_list(gd.get("units", []), f"{gw}.units")):
            uw = f"{gw}.units[{m}]"
            ud = _mapping(u, uw)
            servers = tuple(str(s) for s in _list(ud.get("servers", []),
                                                  f"{uw}.servers"))
            for s in servers:
                if s not in instances:
                    raise ScenarioError(f"{uw}.servers: {s!r} is not in "
                                        f"topology.instances")
            units.append(UnitSpec(_required(ud, "name", uw), servers,
                                  str(ud.get("state", "CREATE_COMPLETE"))))
        min_size = int(_number(gd.get("min_size", 0), f"{gw}.min_size"))
        max_size = (None if gd.get("max_size") is None else
                    int(_number(gd["max_size"], f"{gw}.max_size")))
        if max_size is not None and max_size < min_size:
            raise ScenarioError(f"{gw}.max_size: {max_size} is below "
                                f"min_size {min_size}")
        groups.append(GroupSpec(_required(gd, "name", gw),
                                _required(gd, "stack_id", gw), tuple(units),
                                min_size, max_size))
    tags = _list(d.get("tags", []), f"{where}.tags")
    if not all(isinstance(t, str) for t in tags):
        raise ScenarioError(f"{where}.tags: expected strings, got {tags!r}")
    return StackSpec(id=_required(d, "id", where),
                     name=str(d.get("name", d.get("id"))),
                     groups=tuple(groups),
                     status=str(d.get("status", "CREATE_COMPLETE")),
                     tags=tuple(tags))


def _switch(doc: Any, where: str, hosts: tuple[str, ...]) -> SwitchSpec:
    d = _mapping(doc, where)
    attached = tuple(str(h) for h in _list(d.get("hosts", []),
                                           f"{where}.hosts"))
    for h in attached:
        if h not in hosts:
            raise ScenarioError(f"{where}.hosts: {h!r} is not in "
                                f"topology.hosts")
    return SwitchSpec(_required(d, "id", where), attached, d.get("name"))


def _event(doc: Any, where: str) -> Event:
    d = dict(_mapping(doc, where))
    at = _number(d.pop("at", None), f"{where}.at")
    if len(d) != 1:
        raise ScenarioError(
            f"{where}: needs 'at' and exactly one of "
            f"{', '.join(sorted(EVENT_KINDS))}; got {sorted(d)}")
    (kind, arg), = d.items()
    if kind not in EVENT_KINDS:
        raise ScenarioError(f"{where}: unknown event {kind!r}; known: "
                            f"{', '.join(sorted(EVENT_KINDS))}")
    return Event(at, kind, arg)


def _mapping(doc: Any, where: str) -> dict:
    if not isinstance(doc, dict):
        raise ScenarioError(f"{where}: expected a mapping, got "
                            f"{type(doc).__name__}")
    return doc


def _list(doc: Any, where: str) -> list:
    if not isinstance(doc, list):
        raise ScenarioError(f"{where}: expected a list, got "
                            f"{type(doc).__name__}")
    return doc


def _required(d: dict, key: str, where: str) -> str:
    if d.get(key) in (None, ""):
        raise ScenarioError(f"{where}.{key}: required")
    return str(d[key])


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{where}: expected a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise ScenarioError(f"{where}: too large for a number of "
                            f"seconds") from None
    # NaN sorts nowhere and infinity never comes: a timeline needs neither.
    if not math.isfinite(number):
        raise ScenarioError(f"{where}: expected a finite number, got "
                            f"{value!r}")
    if number < 0:
        raise ScenarioError(f"{where}: must not be negative")
    return number
