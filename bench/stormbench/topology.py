"""The storm: a topology of stacks, groups and hosts, and a timeline.

Everything here is derived from the sizes and a fixed random seed, never
from PYTHONHASHSEED, so every seed sees the same storm.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from vitrage_selfheal.simulate.scenario import (
    GroupSpec,
    InstanceSpec,
    Scenario,
    StackSpec,
    UnitSpec,
)

APP_ALARM = "selfheal_app_unhealthy http"
SECOND_ALARM = "selfheal_app_unhealthy tcp"
STORM_SECONDS = 2.0
# Shares of the affected units that get a second alarm, a re-sent alarm,
# a cleared alarm: 200, 122 and 50 of 1,000 (the storm).
SECOND_SHARE, RESEND_SHARE, CLEAR_SHARE = 0.20, 0.122, 0.05
# Of a fully lost rack, the units whose application stays broken once
# the hosts are back (the rest recover by themselves).
STILL_BROKEN_PER_GROUP = 2


@dataclasses.dataclass(frozen=True)
class TimedEvent:
    at: float
    kind: str
    arg: Any
    phase: str = "storm"


@dataclasses.dataclass
class Storm:
    scenario: Scenario
    events: list[TimedEvent]
    # unit key -> its server id; group stack id -> unit keys
    servers: dict[str, str]
    groups: dict[str, list[str]]
    affected: set[str]
    # Units that must be healed exactly once by the end of the run.
    must_heal: set[str]
    down_hosts: list[str]
    partial: bool

    @property
    def affected_stacks(self) -> int:
        return len({self.root_of(k) for k in self.must_heal})

    def root_of(self, unit_key: str) -> str:
        return unit_key.split("/", 1)[0].replace("group-", "stack-")


def build(units: int = 1000, stacks: int = 50, hosts: int = 20,
          partial: bool = False, seed: int = 7) -> Storm:
    if units % stacks:
        raise ValueError(f"--units {units} is not a multiple of "
                         f"--stacks {stacks}")
    per_group = units // stacks
    host_names = [f"host-{h:03d}" for h in range(hosts)]
    instances, stack_specs = [], []
    servers: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    for s in range(stacks):
        group_stack = f"group-{s:04d}"
        members = []
        for u in range(per_group):
            server = f"vm-{s:04d}-{u:03d}"
            instances.append(InstanceSpec(server, host_names[u % hosts]))
            members.append(UnitSpec(f"m{u:03d}", (server,)))
            servers[f"{group_stack}/m{u:03d}"] = server
        groups[group_stack] = [f"{group_stack}/{m.name}" for m in members]
        stack_specs.append(StackSpec(
            f"stack-{s:04d}", f"cluster-{s:04d}",
            (GroupSpec("asg", group_stack, tuple(members)),)))
    scenario = Scenario(
        name="rack power loss", hosts=tuple(host_names),
        instances=tuple(instances), stacks=tuple(stack_specs),
        switches=(), timeline=(), policy={})
    down = host_names[: max(1, hosts // 4)] if partial else list(host_names)
    host_of = {i.id: i.host for i in instances}
    affected = {k for k, srv in servers.items() if host_of[srv] in down}
    if partial:
        must_heal = set(affected)
    else:
        must_heal = {k for members in groups.values()
                     for k in members[:STILL_BROKEN_PER_GROUP]}
    rng = random.Random(seed)
    # A still-broken unit keeps its probe alarm from the storm on.
    clearable = sorted(affected if partial else affected - must_heal)
    events = _storm_events(rng, down, sorted(affected), clearable, servers)
    return Storm(scenario, events, servers, groups, affected, must_heal,
                 down, partial)


def _storm_events(rng: random.Random, down: list[str], affected: list[str],
                  clearable: list[str],
                  servers: dict[str, str]) -> list[TimedEvent]:
    def at() -> float:
        return round(rng.uniform(0.0, STORM_SECONDS), 4)

    def alarm(name: str, key: str) -> dict:
        return {"name": name, "resource": servers[key]}

    # The hosts go first (power loss), then their units' probes fail.
    events = [TimedEvent(round(rng.uniform(0.0, 0.2), 4), "host_down", h)
              for h in down]
    events += [TimedEvent(at(), "alarm", alarm(APP_ALARM, k))
               for k in affected]
    second = rng.sample(affected, round(len(affected) * SECOND_SHARE))
    events += [TimedEvent(at(), "alarm", alarm(SECOND_ALARM, k))
               for k in second]
    firsts = sorted(events, key=lambda e: e.at)
    unit_alarms = [e for e in firsts if e.kind == "alarm"]
    for original in rng.sample(unit_alarms,
                               round(len(affected) * RESEND_SHARE)):
        events.append(TimedEvent(
            round(rng.uniform(original.at, STORM_SECONDS), 4), "alarm",
            original.arg))
    # Some probes recover while the host is still down: the unit stays
    # unhealthy through its host.
    for key in rng.sample(clearable, round(len(affected) * CLEAR_SHARE)):
        events.append(TimedEvent(STORM_SECONDS, "alarm_clear",
                                 alarm(APP_ALARM, key)))
    return sorted(events, key=lambda e: (e.at, e.kind, repr(e.arg)))


def return_events(storm: Storm) -> list[TimedEvent]:
    """A fully lost rack comes back: hosts up, and every probe but those
    of the still-broken units recovers."""
    if storm.partial:
        return []
    events = [TimedEvent(0.0, "host_up", h, "return")
              for h in storm.down_hosts]
    seconds = {e.arg["resource"] for e in storm.events
               if e.kind == "alarm" and e.arg["name"] == SECOND_ALARM}
    for key in sorted(storm.affected - storm.must_heal):
        server = storm.servers[key]
        events.append(TimedEvent(0.5, "alarm_clear",
                                 {"name": APP_ALARM, "resource": server},
                                 "return"))
        if server in seconds:
            events.append(TimedEvent(0.5, "alarm_clear",
                                     {"name": SECOND_ALARM,
                                      "resource": server}, "return"))
    return events
