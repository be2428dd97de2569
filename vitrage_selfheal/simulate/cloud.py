"""A simulated cloud: scenario state in, datasource events out.

Every change is fed to the real engine in the shape the real datasource
drivers produce (Nova API dicts, Nova/Doctor/Aodh notifications, static
files, heat.unit driver events), so the templates see what production
would show them. What Heat does when a heal or a scale succeeds is in
simulate.heat.
"""

from __future__ import annotations

import collections
import contextlib
import pathlib
from collections.abc import Sequence
from typing import Any, Optional

import yaml

from vitrage_selfheal.model import (
    Unit,
    controls_from_tags,
)
from vitrage_selfheal.names import HEAT_UNIT_DATASOURCE
from vitrage_selfheal.simulate.heat import SimulatedHeat
from vitrage_selfheal.simulate.members import SimUnit, stamp
from vitrage_selfheal.simulate.scenario import (
    Event,
    Scenario,
    ScenarioError,
)

ZONE = "nova"


class SimulatedCloud(SimulatedHeat):
    def __init__(self, scenario: Scenario, static_dir: pathlib.Path,
                 clock: Any) -> None:
        self.scenario = scenario
        self.static_dir = static_dir
        self.clock = clock
        self.instances = {i.id: dict(host=i.host, status=i.status,
                                     name=i.name or i.id)
                          for i in scenario.instances}
        self.units: dict[str, SimUnit] = {}
        self.stack_status = {s.id: s.status for s in scenario.stacks}
        self.controls = {s.id: controls_from_tags(list(s.tags))
                         for s in scenario.stacks}
        self.switch_state = {s.id: "OK" for s in scenario.switches}
        self.failing: set[str] = set()
        # Servers that stay ERROR whatever Nova does to them.
        self.broken: set[str] = set()
        # unit key -> its Heat state while marked SERVER_ERROR/_STOPPED.
        self._heat_state: dict[str, str] = {}
        # Stacks whose next heal the pre-replace hook abandons.
        self.abandoning: set[str] = set()
        self.down_hosts: set[str] = set()
        self._sizes: collections.Counter = collections.Counter()
        self._sizes_of: Optional[int] = None
        self._serial = 0
        for stack in scenario.stacks:
            for group in stack.groups:
                for u in group.units:
                    unit = SimUnit(stack.id, group.stack_id, group.name,
                                 u.name, list(u.servers), u.state)
                    self.units[unit.as_unit(0).key] = unit

    # -- what the drivers would report -------------------------------------
    def group_size(self, group_stack: str) -> int:
        # Counted once per membership: a scan per unit event made a load
        # quadratic (8 s of a 10k-unit load).
        if self._sizes_of != len(self.units):
            self._sizes = collections.Counter(
                u.group_stack for u in self.units.values())
            self._sizes_of = len(self.units)
        return self._sizes[group_stack]

    def unit_event(self, unit: SimUnit) -> dict:
        """One unit in the heat.unit driver's output format."""
        return {
            "root_stack_id": unit.root, "stack_id": unit.group_stack,
            "resource_name": unit.name, "physical_id": unit.physical_id,
            "group": unit.group_stack, "group_name": unit.group_name,
            "group_size": self.group_size(unit.group_stack),
            "state": unit.state, "state_reason": unit.state_reason,
            "server_ids": [s for s in unit.servers if s in self.instances],
            "project_id": self.scenario.project_id,
            "name": f"{unit.group_name}/{unit.name}",
            "update_timestamp": stamp(self.clock.now()),
            "selfheal_controls": self.controls.get(unit.root, ""),
        }

    def instance_entity(self, server_id: str) -> dict:
        spec = self.instances[server_id]
        return {"id": server_id, "name": spec["name"],
                "OS-EXT-SRV-ATTR:host": spec["host"],
                "status": spec["status"],
                "tenant_id": self.scenario.project_id}

    def stack_entity(self, stack_id: str) -> dict:
        stack = next(s for s in self.scenario.stacks if s.id == stack_id)
        return {"id": stack.id, "stack_name": stack.name,
                "stack_status": self.stack_status[stack.id],
                "creation_time": stamp(self.clock.now()),
                "project": self.scenario.project_id, "resources": []}

    def write_static(self) -> None:
        entities = [{"static_id": s.id, "type": "switch", "id": s.id,
                     "name": s.name or s.id, "state": self.switch_state[s.id]}
                    for s in self.scenario.switches]
        entities += [{"static_id": f"host-{h}", "type": "nova.host", "id": h}
                     for h in sorted({h for s in self.scenario.switches
                                      for h in s.hosts})]
        relationships = [{"source": s.id, "target": f"host-{h}",
                          "relationship_type": "attached"}
                         for s in self.scenario.switches for h in s.hosts]
        self.static_dir.mkdir(parents=True, exist_ok=True)
        with (self.static_dir / "topology.yaml").open("w") as out:
            yaml.safe_dump({"metadata": {"name": "simulated switches"},
                            "definitions": {"entities": entities,
                                            "relationships": relationships}},
                           out, sort_keys=True)

    # -- feeding the engine ------------------------------------------------
    def load(self, engine: Any) -> None:
        """Every datasource's first snapshot; on a fresh engine with the
        evaluator started once at the end (`initial_load`)."""
        initial = getattr(engine, "initial_load", contextlib.nullcontext)
        with initial():
            self._load(engine)

    def _load(self, engine: Any) -> None:
        from vitrage.common.constants import DatasourceAction
        init = DatasourceAction.INIT_SNAPSHOT
        hosts = {h: {"nova-compute": {"active": True, "available": True}}
                 for h in self.scenario.hosts}
        engine.snapshot("nova.zone", [{"zoneName": ZONE, "hosts": hosts,
                                       "zoneState": {"available": True}}],
                        init)
        engine.snapshot("nova.host", [{"host": h, "zone": ZONE}
                                      for h in self.scenario.hosts], init)
        engine.snapshot("nova.instance", [self.instance_entity(i)
                                          for i in sorted(self.instances)],
                        init)
        engine.snapshot("heat.stack", [self.stack_entity(s.id)
                                       for s in self.scenario.stacks], init)
        engine.snapshot(HEAT_UNIT_DATASOURCE,
                        [self.unit_event(u) for _, u in
                         sorted(self.units.items())], init)
        if self.scenario.switches:
            self.write_static()
            engine.pull("static")

    def apply(self, event: Event, engine: Any) -> None:
        handler = getattr(self, f"_on_{event.kind}")
        handler(event.arg, engine)

    def _on_host_down(self, host: Any, engine: Any) -> None:
        self._doctor(str(host), "down", engine)

    def _on_host_up(self, host: Any, engine: Any) -> None:
        self._doctor(str(host), "up", engine)

    def _doctor(self, host: str, status: str, engine: Any) -> None:
        if host not in self.scenario.hosts:
            raise ScenarioError(f"unknown host {host!r}")
        if status == "down":
            self.down_hosts.add(host)
        else:
            self.down_hosts.discard(host)
        event_type = f"vitrage.custom.event.{status}"
        engine.push(event_type, {
            # Doctor's own format has no zone suffix.
            "time": stamp(self.clock.now(), zulu=False),
            "type": "compute.host.down",
            "details": {"hostname": host, "source": "simulate",
                        "severity": "critical", "status": status,
                        "monitor_id": "simulate"}})

    def _on_instance_state(self, arg: Any, engine: Any) -> None:
        """Nova's instance update reaches the heat.unit driver, which
        marks the unit SERVER_ERROR / SERVER_STOPPED (or re-reads it when
        the server serves again), decided by the driver's own code;
        Vitrage's Nova driver takes no `compute.instance.update`: an ERROR
        shows in its periodic server listing, simulated here too."""
        from vitrage.common.constants import DatasourceAction
        server_id, status = self._instance_arg(arg)
        self.instances[server_id]["status"] = status
        changed = self._server_state(server_id, status)
        if changed:
            engine.snapshot(HEAT_UNIT_DATASOURCE,
                            [self.unit_event(u) for u in changed],
                            DatasourceAction.SNAPSHOT)
        engine.snapshot("nova.instance", [self.instance_entity(server_id)],
                        DatasourceAction.SNAPSHOT)

    def _server_state(self, server_id: str, status: str) -> list[SimUnit]:
        from vitrage_selfheal.datasources.heat.unit import server_loss
        from vitrage_selfheal.datasources.heat.unit.properties import (
            UnitProps,
        )

        changed = []
        for key, unit in self.units.items():
            event = self.unit_event(unit)
            if server_loss.broken_state(status) is not None:
                marked = server_loss.mark_state(
                    event, server_id, status, self.stack_status.get(unit.root))
                if marked is None:
                    continue
                self._heat_state[key] = unit.state
                unit.state = marked[UnitProps.STATE]
                unit.state_reason = marked[UnitProps.STATE_REASON]
            elif server_loss.has_lost(event, server_id) and \
                    key in self._heat_state:
                # The driver re-reads the stack: Heat's own word again.
                unit.state = self._heat_state.pop(key)
                unit.state_reason = ""
            else:
                continue
            changed.append(unit)
        return changed

    def _on_hook_abandons(self, stack: Any, engine: Any) -> None:
        self.abandoning.add(str(stack))

    def _on_instance_broken(self, arg: Any, engine: Any) -> None:
        server_id = str(arg)
        if server_id not in self.instances:
            raise ScenarioError(f"unknown instance {server_id!r}")
        self.broken.add(server_id)
        self._on_instance_state({"id": server_id, "status": "ERROR"},
                                engine)

    def _servers_of(self, units: Sequence[Unit]) -> list[str]:
        return [s for u in units for s in self.units[u.key].servers
                if u.key in self.units and s in self.instances]

    def unremedied(self, units: Sequence[Unit]) -> list[Unit]:
        """The units a reboot or rebuild cannot bring back: a server of
        theirs is broken (selfheal.remedy_units' `result.failed`)."""
        return [u for u in units
                if any(s in self.broken for s in self._servers_of([u]))]

    def remedied(self, units: Sequence[Unit], step: str,
                 engine: Any) -> list[str]:
        """A reboot or rebuild that worked: the servers are ACTIVE."""
        lines = []
        for server_id in self._servers_of(units):
            if self.instances[server_id]["status"] != "ACTIVE":
                self._on_instance_state({"id": server_id,
                                         "status": "ACTIVE"}, engine)
            lines.append(f"{step} of {server_id}: ACTIVE")
        return lines

    def _on_instance_deleted(self, arg: Any, engine: Any) -> None:
        server_id = str(arg)
        if server_id not in self.instances:
            raise ScenarioError(f"unknown instance {server_id!r}")
        # Marked while Nova still lists the server, as the driver does.
        missing = self._mark_missing(server_id)
        spec = self.instances.pop(server_id)
        self._delete_notification(server_id, spec, engine)
        if missing:
            from vitrage.common.constants import DatasourceAction
            engine.snapshot(HEAT_UNIT_DATASOURCE,
                            [self.unit_event(u) for u in missing],
                            DatasourceAction.SNAPSHOT)

    def _delete_notification(self, server_id: str, spec: dict,
                             engine: Any) -> None:
        engine.push("compute.instance.delete.end", {
            "instance_id": server_id, "hostname": spec["name"],
            "state": "deleted", "host": spec["host"],
            "tenant_id": self.scenario.project_id})

    def _on_alarm(self, arg: Any, engine: Any) -> None:
        self._aodh(arg, "alarm", engine)

    def _on_alarm_clear(self, arg: Any, engine: Any) -> None:
        self._aodh(arg, "ok", engine)

    def _aodh(self, arg: Any, state: str, engine: Any) -> None:
        if not isinstance(arg, dict) or not arg.get("name") or \
                not arg.get("resource"):
            raise ScenarioError(f"alarm needs name and resource: {arg!r}")
        alarm_id = f"aodh-{arg['name']}-{arg['resource']}"
        now = stamp(self.clock.now(), zulu=False)   # Aodh's own format
        if state == "alarm":
            engine.push("alarm.creation", {
                "alarm_id": alarm_id,
                "severity": arg.get("severity", "critical"),
                "project_id": self.scenario.project_id, "timestamp": now,
                "detail": {
                    "name": arg["name"], "state": "alarm",
                    "severity": arg.get("severity", "critical"),
                    "type": "event", "description": arg["name"],
                    "enabled": True, "repeat_actions": False,
                    "rule": {"event_type": arg.get(
                        "type", "selfheal.probe"),
                        "query": [{"field": "traits.resource_id",
                                   "op": "eq", "type": "",
                                   "value": arg["resource"]}]}}})
        else:
            engine.push("alarm.state_transition", {
                "alarm_id": alarm_id, "timestamp": now,
                "project_id": self.scenario.project_id,
                "detail": {"state": "ok"}})

    def _on_switch_down(self, switch: Any, engine: Any) -> None:
        self._switch(str(switch), "ERROR", engine)

    def _on_switch_up(self, switch: Any, engine: Any) -> None:
        self._switch(str(switch), "OK", engine)

    def _switch(self, switch: str, state: str, engine: Any) -> None:
        if switch not in self.switch_state:
            raise ScenarioError(f"unknown switch {switch!r}")
        self.switch_state[switch] = state
        self.write_static()
        engine.pull("static")

    def _on_stack_status(self, arg: Any, engine: Any) -> None:
        stack, status = arg.get("stack"), arg.get("status")
        if stack not in self.stack_status or not status:
            raise ScenarioError(f"stack_status needs a known stack and a "
                                f"status: {arg!r}")
        self.stack_status[stack] = str(status)

    def _on_heal_fails(self, stack: Any, engine: Any) -> None:
        self.failing.add(str(stack))

    def _on_scale(self, arg: Any, engine: Any) -> None:
        # The healer takes it (the runner's loop); checked here so a bad
        # event is a ScenarioError wherever it is applied.
        self.scale_request(arg)

    def _on_shadow(self, arg: Any, engine: Any) -> None:
        self.shadow_switch(arg)

    def shadow_switch(self, arg: Any) -> tuple[bool, Optional[str]]:
        """(on, stack or None for all) of a `shadow` event; the runner's
        loop applies it to the healer's ledger."""
        # Not `on:`: YAML 1.1 reads the key `on` as true.
        if not isinstance(arg, dict) or not isinstance(arg.get("enabled"),
                                                       bool):
            raise ScenarioError(f"shadow: expected {{enabled: true|false, "
                                f"stack?}}, got {arg!r}")
        stack = arg.get("stack")
        if stack is not None and stack not in {
                s.id for s in self.scenario.stacks}:
            raise ScenarioError(f"shadow: unknown stack {stack!r}")
        return arg["enabled"], stack

    def _mark_missing(self, server_id: str) -> list[SimUnit]:
        """The units the heat.unit driver reports SERVER_MISSING when Nova
        says `server_id` is gone, decided by the driver's own code."""
        from vitrage_selfheal.datasources.heat.unit import server_loss
        from vitrage_selfheal.datasources.heat.unit.properties import (
            UnitProps,
        )

        marked = []
        for unit in self.units.values():
            changed = server_loss.mark_missing(
                self.unit_event(unit), server_id,
                self.stack_status.get(unit.root))
            if changed is not None:
                unit.state = changed[UnitProps.STATE]
                unit.state_reason = changed[UnitProps.STATE_REASON]
                marked.append(unit)
        return marked

    def _instance_arg(self, arg: Any) -> tuple[str, str]:
        if not isinstance(arg, dict) or arg.get("id") not in self.instances \
                or not arg.get("status"):
            raise ScenarioError(f"instance_state needs a known id and a "
                                f"status: {arg!r}")
        return str(arg["id"]), str(arg["status"])

    def status(self, root_stack_id: str) -> Optional[str]:
        return self.stack_status.get(root_stack_id)
