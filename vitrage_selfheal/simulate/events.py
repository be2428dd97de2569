"""The timeline's events: each kind's argument, checked against the
topology, so that a typo fails the load instead of doing nothing.

Ids made during a run are known by the simulator's own naming (README):
a replaced server of a unit is `<server>~N`, a scale-out's unit
`<group>/scaled-N` with server `srv-scaled-N`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from vitrage_selfheal.simulate import fields as f
from vitrage_selfheal.simulate.fields import ScenarioError

EVENT_KINDS = {
    "host_down": "host name: Doctor reports the host down",
    "host_up": "host name: Doctor reports the host up again",
    "instance_state": "{id, status}: a Nova state change (ERROR, SHUTOFF…)",
    "instance_deleted": "instance id: deleted out of band",
    "instance_broken": "instance id: goes ERROR and stays so through "
                       "reboots and rebuilds",
    "alarm": "{name, resource, severity?, type?}: an Aodh alarm fires "
             "(type: the event type its rule watches)",
    "alarm_clear": "{name, resource}: the Aodh alarm is OK again",
    "switch_down": "switch id: the static switch goes down",
    "switch_up": "switch id: the switch is back",
    "stack_status": "{stack, status}: e.g. a scaling action running",
    "heal_fails": "stack id: the next heal execution of it fails",
    "hook_abandons": "stack id: the pre-replace hook answers ABANDON to "
                     "its next heal (policy pre_replace_hook set)",
    "scale": "{group, by, stack?}: an operator's `vitrage-selfheal scale` "
             "(group: the group's stack_id; stack, if given, its root)",
    "shadow": "{enabled, stack?}: `vitrage-selfheal shadow on|off "
              "[--stack]`",
}

# Nova's server statuses (the API's `status`).
NOVA_STATUSES = frozenset((
    "ACTIVE", "BUILD", "DELETED", "ERROR", "HARD_REBOOT", "MIGRATING",
    "PASSWORD", "PAUSED", "REBOOT", "REBUILD", "RESCUE", "RESIZE",
    "REVERT_RESIZE", "SHELVED", "SHELVED_OFFLOADED", "SHUTOFF",
    "SOFT_DELETED", "SUSPENDED", "UNKNOWN", "VERIFY_RESIZE"))
# An Aodh alarm's `severity` (aodh.api.controllers.v2.alarms).
AODH_SEVERITIES = frozenset(("low", "moderate", "critical"))
# Heat's <action>_<status> of stacks and resources.
HEAT_STATUS = re.compile(
    r"(INIT|CREATE|DELETE|UPDATE|ROLLBACK|SUSPEND|RESUME|ADOPT|SNAPSHOT|"
    r"CHECK|RESTORE)_(IN_PROGRESS|FAILED|COMPLETE)")
SCALED_UNIT = re.compile(r"scaled-[1-9][0-9]*")
SCALED_SERVER = re.compile(r"srv-scaled-[1-9][0-9]*")


@dataclasses.dataclass(frozen=True)
class Known:
    """What a timeline may name."""

    hosts: frozenset[str]
    instances: frozenset[str]
    # Servers of units: replaced as <server>~N.
    unit_servers: frozenset[str]
    stacks: frozenset[str]
    # group stack_id -> root stack id
    groups: dict[str, str]
    units: frozenset[str]
    switches: frozenset[str]
    hook: bool

    def instance(self, value: str) -> bool:
        if value in self.instances or SCALED_SERVER.fullmatch(value):
            return True
        base, sep, generation = value.partition("~")
        return bool(sep) and base in self.unit_servers and \
            generation.isdigit() and int(generation) > 0

    def unit(self, key: str) -> bool:
        group, _, name = key.partition("/")
        return key in self.units or (
            group in self.groups and bool(SCALED_UNIT.fullmatch(name)))


def heat_status(value: str, where: str) -> str:
    if not HEAT_STATUS.fullmatch(value):
        raise ScenarioError(f"{where}: {value!r} is not a Heat status "
                            f"(<ACTION>_IN_PROGRESS|FAILED|COMPLETE)")
    return value


def check(kind: str, arg: Any, where: str, known: Known,
          raised: set[tuple[str, str]]) -> Any:
    """The argument of one `kind` event, checked; `raised` holds the
    (name, resource) of alarms fired earlier in the timeline."""
    at = f"{where}.{kind}"
    if kind in ("host_down", "host_up"):
        return _member(f.name(arg, at), known.hosts, at, "topology.hosts")
    if kind in ("instance_deleted", "instance_broken"):
        return _instance(f.name(arg, at), at, known)
    if kind in ("switch_down", "switch_up"):
        return _member(f.name(arg, at), known.switches, at,
                       "topology.switches")
    if kind in ("heal_fails", "hook_abandons"):
        stack = _member(f.name(arg, at), known.stacks, at,
                        "topology.stacks")
        if kind == "hook_abandons" and not known.hook:
            raise ScenarioError(f"{at}: needs policy.pre_replace_hook (no "
                                f"hook is asked without one)")
        return stack
    if kind == "instance_state":
        d = f.mapping(arg, at, ("id", "status"))
        _instance(f.required(d, "id", at), f"{at}.id", known)
        f.one_of(f.required(d, "status", at), NOVA_STATUSES,
                 f"{at}.status")
        return d
    if kind in ("alarm", "alarm_clear"):
        return _alarm(kind, arg, at, known, raised)
    if kind == "stack_status":
        d = f.mapping(arg, at, ("stack", "status"))
        _member(f.required(d, "stack", at), known.stacks, f"{at}.stack",
                "topology.stacks")
        heat_status(f.required(d, "status", at), f"{at}.status")
        return d
    if kind == "scale":
        return _scale(arg, at, known)
    if kind == "shadow":
        d = f.mapping(arg, at, ("enabled", "stack"))
        # Not `on:`: YAML 1.1 reads the key `on` as true.
        if not isinstance(d.get("enabled"), bool):
            raise ScenarioError(f"{at}.enabled: expected true or false, "
                                f"got {d.get('enabled')!r}")
        if d.get("stack") is not None:
            _member(f.name(d["stack"], f"{at}.stack"), known.stacks,
                    f"{at}.stack", "topology.stacks")
        return d
    raise ScenarioError(f"{where}: unknown event {kind!r}; known: "
                        f"{', '.join(sorted(EVENT_KINDS))}")


def _member(value: str, known: frozenset[str], where: str,
            what: str) -> str:
    if value not in known:
        raise ScenarioError(f"{where}: {value!r} is not in {what}")
    return value


def _instance(value: str, where: str, known: Known) -> str:
    if not known.instance(value):
        raise ScenarioError(
            f"{where}: {value!r} is not in topology.instances (nor a "
            f"replacement <server>~N of a unit's server, nor a scale-out's "
            f"srv-scaled-N)")
    return value


def _alarm(kind: str, arg: Any, at: str, known: Known,
           raised: set[tuple[str, str]]) -> dict:
    keys = ("name", "resource", "severity", "type") if kind == "alarm" \
        else ("name", "resource")
    d = f.mapping(arg, at, keys)
    name = f.required(d, "name", at)
    resource = f.required(d, "resource", at)
    if resource not in known.hosts and not known.instance(resource):
        raise ScenarioError(
            f"{at}.resource: {resource!r} is neither a host nor an "
            f"instance of the topology (nor a replacement or scale-out "
            f"server)")
    if "type" in d:
        f.name(d["type"], f"{at}.type")
    if "severity" in d:
        _member(f.name(d["severity"], f"{at}.severity"), AODH_SEVERITIES,
                f"{at}.severity", "Aodh's alarm severities")
    if kind == "alarm":
        raised.add((name, resource))
    elif (name, resource) not in raised:
        raise ScenarioError(f"{at}: no alarm {name!r} on {resource!r} "
                            f"fires before it")
    return d


def _scale(arg: Any, at: str, known: Known) -> dict:
    d = f.mapping(arg, at, ("stack", "group", "by"))
    group = _member(f.required(d, "group", at), frozenset(known.groups),
                    f"{at}.group", "the groups' stack_id")
    if f.integer(d.get("by"), f"{at}.by", minimum=None) == 0:
        raise ScenarioError(f"{at}.by: must not be 0")
    if d.get("stack") is not None:
        stack = f.name(d["stack"], f"{at}.stack")
        if stack != known.groups[group]:
            raise ScenarioError(f"{at}.stack: {stack!r} is not the root "
                                f"stack of group {group!r} "
                                f"({known.groups[group]!r})")
    return d
