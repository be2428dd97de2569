"""The simulated Heat: a successful heal replaces its units (a new server
each, the others untouched); a scaling group's size and bounds as the
GroupReader reads them; a successful scale's members added and removed."""

from __future__ import annotations

from typing import Any, Optional

from vitrage_selfheal.model import (
    GroupInfo,
    GroupRef,
    ScaleMethod,
    ScalePlan,
    ScaleRequest,
    Unit,
)
from vitrage_selfheal.names import HEAT_UNIT_DATASOURCE
from vitrage_selfheal.simulate.members import SimUnit
from vitrage_selfheal.simulate.scenario import GroupSpec, ScenarioError


class SimulatedHeat:
    """Mixed into SimulatedCloud: uses its scenario, units, instances,
    clock and engine feeds."""

    def replace(self, units: list[Unit], engine: Any) -> list[str]:
        """A successful heal: each unit gets a new server, nothing else."""
        events, replaced, deleted = [], [], []
        for unit in units:
            sim = self.units[unit.key]
            sim.generation += 1
            host = self._healthy_host(sim)
            new_servers = []
            for old in sim.servers:
                spec = self.instances.pop(old, None)
                if spec is not None:
                    deleted.append((old, spec))
                new = f"{old.split('~')[0]}~{sim.generation}"
                self.instances[new] = dict(host=host, status="ACTIVE",
                                           name=new)
                new_servers.append(new)
            sim.servers, sim.state = new_servers, "UPDATE_COMPLETE"
            sim.state_reason = ""
            self._heat_state.pop(unit.key, None)
            replaced.append(f"{unit.key} -> {sim.physical_id}")
            events.append(sim)
        from vitrage.common.constants import DatasourceAction
        for old, spec in deleted:
            self._delete_notification(old, spec, engine)
        engine.snapshot("nova.instance",
                        [self.instance_entity(s) for u in events
                         for s in u.servers], DatasourceAction.SNAPSHOT)
        engine.snapshot(HEAT_UNIT_DATASOURCE,
                        [self.unit_event(u) for u in events],
                        DatasourceAction.SNAPSHOT)
        return replaced

    def _healthy_host(self, sim: Optional[SimUnit]) -> str:
        down = self.down_hosts
        current = [self.instances[s]["host"] for s in sim.servers
                   if s in self.instances] if sim is not None else []
        for host in current + list(self.scenario.hosts):
            if host not in down:
                return host
        return self.scenario.hosts[0]

    # -- Heat resizing groups ------------------------------------------------

    def group_info(self, ref: GroupRef) -> Optional[GroupInfo]:
        """GroupReader: a simulated group resizes by its capacity."""
        spec = self._group_spec(ref.key)
        if spec is None:
            return None
        return GroupInfo(size=self.group_size(ref.key),
                         min_size=spec.min_size, max_size=spec.max_size,
                         method=ScaleMethod.CAPACITY,
                         capacity_parameter="size",
                         parent_stack_id=ref.root_stack_id,
                         resource_name=spec.name)

    def _group_spec(self, group_stack: str) -> Optional[GroupSpec]:
        return next((g for s in self.scenario.stacks for g in s.groups
                     if g.stack_id == group_stack), None)

    def scale_request(self, arg: Any) -> ScaleRequest:
        if not isinstance(arg, dict) or self._group_spec(
                str(arg.get("group"))) is None or not isinstance(
                    arg.get("by"), int) or isinstance(arg.get("by"), bool):
            raise ScenarioError(f"scale needs a known group (its stack_id) "
                                f"and an integer 'by': {arg!r}")
        root = next(s.id for s in self.scenario.stacks for g in s.groups
                    if g.stack_id == arg["group"])
        return ScaleRequest(group=GroupRef(root, str(arg["group"])),
                            delta=arg["by"], source="operator", manual=True,
                            detail="scenario")

    def plan_members(self, plan: ScalePlan) -> tuple[list[str], list[str]]:
        """What Heat would add and remove for `plan`: victims first, then
        the oldest; new members named as Heat names them (unique)."""
        group = plan.group.key
        members = sorted((u for u in self.units.values()
                          if u.group_stack == group),
                         key=lambda u: (u.as_unit(0).key not in plan.victims,
                                        u.born))
        size = len(members)
        removed = [u.as_unit(0).key for u in members[:max(
            0, size - plan.target)]]
        added = []
        for _ in range(max(0, plan.target - size)):
            self._serial += 1
            added.append(f"{group}/scaled-{self._serial}")
        return added, removed

    def resize(self, added: list[str], removed: list[str],
               engine: Any) -> list[str]:
        """A successful scale: members removed (their servers deleted) and
        added (a new server each), the group's size changed."""
        from vitrage.common.constants import DatasourceAction
        lines, gone = [], []
        for key in removed:
            sim = self.units.pop(key, None)
            if sim is None:
                continue
            for server in sim.servers:
                spec = self.instances.pop(server, None)
                if spec is not None:
                    self._delete_notification(server, spec, engine)
            gone.append(sim)
            lines.append(f"removed {key}")
        fresh = []
        for key in added:
            group, name = key.split("/", 1)
            spec = self._group_spec(group)
            root = next(s.id for s in self.scenario.stacks
                        if spec in s.groups)
            server = f"srv-{name}"
            self.instances[server] = dict(host=self._healthy_host(None),
                                          status="ACTIVE", name=server)
            sim = SimUnit(root, group, spec.name, name, [server],
                        "CREATE_COMPLETE", born=self.clock.now())
            self.units[key] = sim
            fresh.append(sim)
            lines.append(f"added {key} ({server})")
        if fresh:
            engine.snapshot("nova.instance",
                            [self.instance_entity(s) for u in fresh
                             for s in u.servers], DatasourceAction.SNAPSHOT)
        if fresh or gone:
            # Every member of a resized group: the size changed for all.
            groups = {u.group_stack for u in fresh + gone}
            engine.snapshot(HEAT_UNIT_DATASOURCE,
                            [self.unit_event(u) for _, u in
                             sorted(self.units.items())
                             if u.group_stack in groups],
                            DatasourceAction.SNAPSHOT)
        if gone:
            from vitrage_selfheal.datasources.heat.unit.driver import (
                deletion_event,
            )
            engine.snapshot(HEAT_UNIT_DATASOURCE,
                            [deletion_event(self.unit_event(u))
                             for u in gone], DatasourceAction.SNAPSHOT)
        return lines
