"""heat.unit through the REAL Vitrage 15.0.1 processor, in-process.

Config as an operator writes it (our datasource path, our values folder),
Vitrage's own DriverExec for snapshots and DriversNotificationEndpoint for
notifications, next to Vitrage's nova, heat.stack and static datasources.
Heat is the fake of the unit tests (openstacksdk-shaped) plus a small
heatclient-shaped view of it for Vitrage's heat.stack driver.
"""

from __future__ import annotations

import pathlib
import time
from types import SimpleNamespace
from typing import Any, Optional

import pytest
from oslo_config import cfg

from tests.unit.test_heat_unit_datasource import (
    ASG_MEMBERS,
    ASG_SERVERS,
    ASG_STACK,
    PROJECT,
    RG_SERVERS,
    RG_STACK,
    ROOT,
    FakeConnection,
    FakeHeat,
    add_asg_unit,
    cluster_heat,
)
from vitrage_selfheal.datasources.heat.unit.driver import HeatUnitDriver
from vitrage_selfheal.datasources.values import values_dir

pytestmark = pytest.mark.engine

REPO = pathlib.Path(__file__).resolve().parents[2]
HOSTS = {ASG_SERVERS[0]: "compute-0", ASG_SERVERS[1]: "compute-1",
         ASG_SERVERS[2]: "compute-2", RG_SERVERS[0]: "compute-0",
         RG_SERVERS[1]: "compute-1"}

VITRAGE_CONF = """
[DEFAULT]
transport_url = fake:/

[datasources]
types = nova.host,nova.instance,heat.stack,heat.unit,static
path = vitrage.datasources,vitrage_selfheal.datasources

[entity_graph]
datasources_values_dir = {values}

[database]
connection = sqlite://

[static]
directory = {static}
"""


def _reset_vitrage() -> None:
    from vitrage.datasources import utils as ds_utils
    from vitrage.datasources.transformer_base import TransformerBase

    # Vitrage keeps its config, drivers and id cache in module globals.
    cfg.CONF.reset()
    ds_utils.drivers.clear()
    TransformerBase.key_to_uuid_cache.clear()


@pytest.fixture
def vitrage_conf(tmp_path: pathlib.Path):
    from vitrage.common import config

    _reset_vitrage()
    path = tmp_path / "vitrage.conf"
    path.write_text(VITRAGE_CONF.format(values=values_dir(),
                                        static=REPO / "datasources/static"))
    config.parse_config(["vitrage-graph"], default_config_files=[str(path)])
    yield cfg.CONF
    _reset_vitrage()


class FakeHeatclient:
    """python-heatclient's shape, as Vitrage's heat.stack driver uses it."""

    def __init__(self, heat: FakeHeat) -> None:
        self.heat = heat
        self.stacks = SimpleNamespace(list=self._list, get=self._get)
        self.resources = SimpleNamespace(list=self._resources)

    def _list(self, **query: Any) -> list:
        return [_Dict({"id": s.id, "stack_name": s.name,
                       "stack_status": s.status, "project": PROJECT,
                       "creation_time": "2025-01-01T00:00:00"})
                for s in self.heat.stacks.values() if s.parent_id is None]

    def _get(self, stack_id: str) -> _Dict:
        stack = self.heat.stacks.get(stack_id)
        # Heat still shows a deleted stack by id.
        return _Dict({"parent": stack.parent_id if stack else None})

    def _resources(self, stack_id: str, nested_depth: int = 0) -> list:
        found = []
        for res in self.heat.resources.get(stack_id, []):
            found.append(_Dict({"resource_name": res.name,
                                "resource_type": res.resource_type,
                                "physical_resource_id":
                                    res.physical_resource_id}))
            if res.physical_resource_id in self.heat.stacks:
                found += self._resources(res.physical_resource_id)
        return found


class _Dict(dict):
    def to_dict(self) -> dict:
        return dict(self)


class World:
    """A Vitrage graph fed by Vitrage's own datasource machinery."""

    def __init__(self, heal_states: Optional[dict] = None) -> None:
        from vitrage.datasources import utils as ds_utils
        from vitrage.datasources.heat.stack.driver import HeatStackDriver
        from vitrage.entity_graph import get_graph_driver
        from vitrage.entity_graph.driver_exec import DriverExec
        from vitrage.entity_graph.processor.processor import Processor

        self.heat = cluster_heat()
        self.graph = get_graph_driver()("Entity Graph")
        self.processor = Processor(self.graph)
        self.exec = DriverExec(self.process, None, self.graph)
        states = heal_states if heal_states is not None else {}
        self.unit_driver = HeatUnitDriver(conn=FakeConnection(self.heat),
                                          heal_state=lambda k: states.get(
                                              k, ""))
        # What get_drivers_by_name would build from [heat.unit] driver.
        ds_utils.drivers["heat.unit"] = self.unit_driver
        stack_driver = HeatStackDriver()
        stack_driver._client = FakeHeatclient(self.heat)
        HeatStackDriver._datasource_name = "heat.stack"
        ds_utils.drivers["heat.stack"] = stack_driver

    def process(self, events: Any) -> int:
        count = 0
        for event in events:
            self.processor.process_event(event)
            count += 1
        return count

    def boot(self) -> World:
        from vitrage.common.constants import DatasourceAction
        from vitrage.datasources.driver_base import DriverBase

        init = DatasourceAction.INIT_SNAPSHOT
        hosts = [{"host": h, "zone": "nova"} for h in sorted(
            set(HOSTS.values()))]
        servers = [{"id": s, "name": f"vm-{s}", "status": "ACTIVE",
                    "OS-EXT-SRV-ATTR:host": h, "tenant_id": PROJECT}
                   for s, h in HOSTS.items()]
        self.process(DriverBase.make_pickleable(hosts, "nova.host", init))
        self.process(DriverBase.make_pickleable(servers, "nova.instance",
                                                init))
        for name in ("static", "heat.stack", "heat.unit"):
            assert self.exec.get_all(name, init) > 0, name
        return self

    def notify(self, event_type: str, stack_id: str) -> None:
        from vitrage.entity_graph.driver_exec import (
            DriversNotificationEndpoint,
        )

        payload = {"stack_identity": stack_id, "stack_name": "web",
                   "state": "UPDATE_COMPLETE", "tenant_id": PROJECT,
                   "create_at": "2025-01-01T00:00:00"}
        endpoint = DriversNotificationEndpoint(self.process).init()
        endpoint.info({}, "orchestration.host", event_type, payload, {})

    def vertex(self, vtype: str, entity_id: str) -> Any:
        found = self.graph.get_vertices(vertex_attr_filter={
            "vitrage_type": vtype, "id": entity_id})
        assert len(found) == 1, (vtype, entity_id, found)
        return found[0]

    def units(self, deleted: bool = False) -> dict[str, Any]:
        return {v["id"]: v for v in self.graph.get_vertices(
            vertex_attr_filter={"vitrage_type": "heat.unit",
                                "vitrage_is_deleted": deleted})}

    def targets(self, vertex: Any, label: str) -> dict[str, str]:
        """Live `label` edges out of `vertex`: target id -> target type."""
        from vitrage.graph import Direction

        out = {}
        for edge in self.graph.get_edges(vertex.vertex_id,
                                         direction=Direction.OUT):
            if edge.label == label and not edge.get("vitrage_is_deleted"):
                target = self.graph.get_vertex(edge.target_id)
                out[target["id"]] = target["vitrage_type"]
        return out


def asg_id(i: int, member: Optional[str] = None) -> str:
    return f"{ROOT}/{ASG_STACK}/{member or ASG_MEMBERS[i]}"


def rg_id(i: int) -> str:
    return f"{ROOT}/{RG_STACK}/{i}"


ALL_UNITS = {asg_id(0), asg_id(1), asg_id(2), rg_id(0), rg_id(1)}


def test_units_with_their_properties_and_edges(vitrage_conf) -> None:
    world = World(heal_states={f"{RG_STACK}/0": "HEALING"}).boot()
    units = world.units()
    assert set(units) == ALL_UNITS
    unit = units[asg_id(0)]
    assert {k: unit.get(k) for k in (
        "root_stack_id", "stack_id", "resource_name", "physical_id",
        "group", "group_name", "group_size", "state", "heal_state",
        "project_id", "name", "vitrage_category", "vitrage_datasource_name",
        "vitrage_is_placeholder", "vitrage_operational_state",
        "vitrage_aggregated_state")} == {
        "root_stack_id": ROOT, "stack_id": ASG_STACK,
        "resource_name": ASG_MEMBERS[0], "physical_id": "unit-stack-0",
        "group": ASG_STACK, "group_name": "asg", "group_size": 3,
        "state": "CREATE_COMPLETE", "heal_state": "", "project_id": PROJECT,
        "name": f"web/asg/{ASG_MEMBERS[0]}", "vitrage_category": "RESOURCE",
        "vitrage_datasource_name": "heat.unit",
        "vitrage_is_placeholder": False, "vitrage_operational_state": "OK",
        "vitrage_aggregated_state": "CREATE_COMPLETE"}
    assert units[rg_id(0)]["heal_state"] == "HEALING"
    assert units[rg_id(1)]["group_size"] == 2

    stack = world.vertex("heat.stack", ROOT)
    assert not stack["vitrage_is_placeholder"]
    comprised = world.targets(stack, "comprised")
    assert {i for i, t in comprised.items() if t == "heat.unit"} == ALL_UNITS
    # Vitrage's heat.stack links the same servers directly; both coexist.
    assert {i for i, t in comprised.items() if t == "nova.instance"} == set(
        HOSTS)
    for uid, server in [(asg_id(i), ASG_SERVERS[i]) for i in range(3)] + [
            (rg_id(i), RG_SERVERS[i]) for i in range(2)]:
        assert world.targets(units[uid], "contains") == {
            server: "nova.instance"}
    # Down to the switch: instance <- host <- switch.
    instance = world.vertex("nova.instance", ASG_SERVERS[0])
    assert not instance["vitrage_is_placeholder"]
    host = world.vertex("nova.host", "compute-0")
    assert ASG_SERVERS[0] in world.targets(host, "contains")
    assert world.targets(world.vertex("switch", "switch-a"), "attached") == {
        "compute-0": "nova.host", "compute-1": "nova.host"}


def test_check_failed_unit_is_error(vitrage_conf) -> None:
    world = World().boot()
    member = world.heat.find(RG_STACK, "1")
    member.status, member.status_reason = "CHECK_FAILED", "marked unhealthy"
    world.notify("orchestration.stack.check.end", ROOT)
    units = world.units()
    failed = units[rg_id(1)]
    assert (failed["state"], failed["vitrage_aggregated_state"],
            failed["vitrage_operational_state"]) == (
        "CHECK_FAILED", "CHECK_FAILED", "ERROR")
    assert failed["state_reason"] == "marked unhealthy"
    assert {u["vitrage_operational_state"] for i, u in units.items()
            if i != rg_id(1)} == {"OK"}


def test_replaced_unit_goes_and_new_one_comes_on_push(vitrage_conf) -> None:
    world = World().boot()
    world.heat.remove(ASG_STACK, ASG_MEMBERS[1])
    world.heat.delete_stack("unit-stack-1")
    add_asg_unit(world.heat, "zz9new", "unit-stack-9", "srv-asg-9")
    # The ASG's nested stack: Vitrage's heat.stack ignores nested stacks.
    world.notify("orchestration.stack.update.end", ASG_STACK)

    assert set(world.units()) == ALL_UNITS - {asg_id(1)} | {
        asg_id(0, "zz9new")}
    gone = world.units(deleted=True)[asg_id(1)]
    assert world.targets(gone, "contains") == {}
    assert world.targets(world.units()[asg_id(0, "zz9new")],
                         "contains") == {"srv-asg-9": "nova.instance"}
    stack = world.vertex("heat.stack", ROOT)
    assert asg_id(1) not in world.targets(stack, "comprised")


def test_deleted_stack_takes_its_units(vitrage_conf) -> None:
    world = World().boot()
    world.heat.delete_stack(ROOT)
    world.notify("orchestration.stack.delete.end", ROOT)
    assert world.units() == {}
    assert set(world.units(deleted=True)) == ALL_UNITS
    assert world.vertex("heat.stack", ROOT)["vitrage_is_deleted"]


def test_snapshot_deletes_units_missed_while_not_listening(
        vitrage_conf) -> None:
    from vitrage.common.constants import DatasourceAction
    from vitrage.datasources import utils as ds_utils

    world = World().boot()
    world.heat.remove(RG_STACK, "1")
    # A restarted driver has no cache: only Vitrage's outdated-entity
    # sweep (should_delete_outdated_entities) can remove the unit.
    ds_utils.drivers["heat.unit"] = HeatUnitDriver(
        conn=FakeConnection(world.heat), heal_state=lambda k: "")
    time.sleep(1.1)  # Vitrage's sample timestamps have 1 s resolution.
    world.exec.get_all("heat.unit", DatasourceAction.SNAPSHOT)
    assert set(world.units()) == ALL_UNITS - {rg_id(1)}
    assert rg_id(1) in world.units(deleted=True)


def test_vitrage_loads_the_plugin_and_every_values_file(vitrage_conf) -> None:
    from vitrage.datasources import utils as ds_utils
    from vitrage.entity_graph.mappings.datasource_info_mapper import (
        DatasourceInfoMapper,
    )

    opts = vitrage_conf["heat.unit"]
    assert opts.driver.startswith("vitrage_selfheal.datasources.heat.unit.")
    assert opts.update_method == "push"
    assert "heat.unit" in ds_utils.get_push_drivers_names()
    loaded = DatasourceInfoMapper().datasources_value_confs
    files = {p.stem for p in pathlib.Path(values_dir()).glob("*.yaml")}
    assert set(loaded) == files and len(files) == 27


# A unit's server gone to ERROR: Vitrage's own Nova driver takes no legacy
# compute.instance.update (its instance keeps its last snapshot's state);
# the heat.unit driver does.
def _update(world: World, server: str, state: str) -> None:
    from vitrage.entity_graph.driver_exec import (
        DriversNotificationEndpoint,
    )

    endpoint = DriversNotificationEndpoint(world.process).init()
    endpoint.info({}, "compute.devcloud", "compute.instance.update",
                  {"instance_id": server, "state": state,
                   "old_state": "active", "tenant_id": PROJECT,
                   "host": "compute-1"}, {})


def test_an_update_to_error_reaches_the_unit_not_vitrages_instance(
        vitrage_conf) -> None:
    world = World().boot()
    _update(world, ASG_SERVERS[1], "error")
    unit = world.units()[asg_id(1)]
    assert (unit["state"], unit["vitrage_operational_state"]) == (
        "SERVER_ERROR", "ERROR")
    # Vitrage's own instance vertex still says ACTIVE: it waits for its
    # next snapshot.
    assert world.vertex("nova.instance", ASG_SERVERS[1])["state"] == \
        "ACTIVE"
    assert {u["vitrage_operational_state"] for i, u in world.units().items()
            if i != asg_id(1)} == {"OK"}
    _update(world, ASG_SERVERS[1], "active")
    unit = world.units()[asg_id(1)]
    assert (unit["state"], unit["vitrage_operational_state"]) == (
        "CREATE_COMPLETE", "OK")


def test_lifecycle_notifications_refresh_heal_state_on_the_vertex(
        vitrage_conf) -> None:
    from vitrage.entity_graph.driver_exec import (
        DriversNotificationEndpoint,
    )

    states: dict[str, str] = {}
    world = World(heal_states=states).boot()
    assert world.units()[rg_id(0)]["heal_state"] == ""
    endpoint = DriversNotificationEndpoint(world.process).init()
    key = f"{RG_STACK}/0"
    for event_type, state in (("selfheal.heal.start", "HEALING"),
                              ("selfheal.heal.end", "HEALED"),
                              ("selfheal.hold.cooldown", "HELD:COOLDOWN")):
        states[key] = state
        endpoint.info({}, "vitrage-selfheal.r1", event_type,
                      {"root_stack_id": ROOT, "unit": key}, {})
        assert world.units()[rg_id(0)]["heal_state"] == state, event_type
    assert {u["heal_state"] for i, u in world.units().items()
            if i != rg_id(0)} == {""}
