"""heat.unit driver against a fake openstacksdk connection (our own fake).

The fake models what the driver relies on: `orchestration.get('/stacks')`
(the all-projects listing), `stacks()`, `find_stack()` and `resources()`
with openstacksdk's attribute names. tests/engine reuses it.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from typing import Any, Optional

import pytest

from vitrage_selfheal.datasources.heat.unit import driver as drv
from vitrage_selfheal.datasources.heat.unit import heal_state as hs
from vitrage_selfheal.datasources.heat.unit.properties import unit_id
from vitrage_selfheal.datasources.values import values_dir
from vitrage_selfheal.metrics import Counters

ROOT, ASG_STACK, RG_STACK = "root-1", "asg-nested", "rg-nested"
PROJECT = "proj-1"
ASG_MEMBERS = ("kx3v7qpmlm2a", "b6o2tzsdjyuq", "w4hd5nnq7ekc")
ASG_SERVERS = ("srv-asg-0", "srv-asg-1", "srv-asg-2")
RG_SERVERS = ("srv-rg-0", "srv-rg-1")
NESTED_LINK = [{"rel": "self", "href": "x"}, {"rel": "nested", "href": "y"}]


class FakeHeatError(Exception):
    pass


@dataclasses.dataclass
class FakeStack:
    id: str
    name: str
    parent_id: Optional[str] = None
    status: str = "CREATE_COMPLETE"
    # Only in the raw JSON listing: openstacksdk's Stack has no project.
    owner_project: str = PROJECT
    # Heat answers null for a stack without tags.
    tags: Optional[list] = None

    def as_json(self) -> dict:
        return {"id": self.id, "stack_name": self.name,
                "stack_status": self.status, "parent": self.parent_id,
                "project": self.owner_project, "tags": self.tags}


@dataclasses.dataclass
class FakeResource:
    name: str
    resource_type: str
    physical_resource_id: str
    status: str = "CREATE_COMPLETE"
    status_reason: str = ""
    links: list = dataclasses.field(default_factory=list)


class FakeResponse:
    def __init__(self, status_code: int, body: dict) -> None:
        self.status_code, self._body = status_code, body

    def json(self) -> dict:
        return self._body


class FakeHeat:
    """Stacks and resources; `broken` stack ids fail to list."""

    def __init__(self) -> None:
        self.stacks: dict[str, FakeStack] = {}
        self.resources: dict[str, list[FakeResource]] = {}
        self.broken: set[str] = set()
        self.list_status = 200
        self.calls: list[tuple] = []

    def add_stack(self, stack_id: str, name: str,
                  parent: Optional[str] = None) -> None:
        self.stacks[stack_id] = FakeStack(stack_id, name, parent)
        self.resources.setdefault(stack_id, [])

    def add(self, stack_id: str, name: str, rtype: str, physical: str,
            **kw: Any) -> FakeResource:
        res = FakeResource(name, rtype, physical, **kw)
        self.resources[stack_id].append(res)
        return res

    def find(self, stack_id: str, name: str) -> FakeResource:
        return next(r for r in self.resources[stack_id] if r.name == name)

    def remove(self, stack_id: str, name: str) -> None:
        self.resources[stack_id].remove(self.find(stack_id, name))

    def delete_stack(self, stack_id: str) -> None:
        for sid in [s for s, st in self.stacks.items()
                    if st.parent_id == stack_id]:
            self.delete_stack(sid)
        self.stacks.pop(stack_id)
        self.resources.pop(stack_id)


class FakeOrchestration:
    def __init__(self, heat: FakeHeat) -> None:
        self.heat = heat

    def get(self, url: str, params: Optional[dict] = None) -> FakeResponse:
        self.heat.calls.append(("get", url, params))
        if self.heat.list_status != 200:
            return FakeResponse(self.heat.list_status, {})
        # Heat lists top-level stacks only unless show_nested is asked.
        return FakeResponse(200, {"stacks": [
            s.as_json() for s in self.heat.stacks.values()
            if s.parent_id is None]})

    def stacks(self, **query: Any) -> list[FakeStack]:
        self.heat.calls.append(("stacks", query))
        return [s for s in self.heat.stacks.values() if s.parent_id is None]

    def find_stack(self, name_or_id: str, ignore_missing: bool = True,
                   resolve_outputs: bool = True) -> Optional[FakeStack]:
        self.heat.calls.append(("find_stack", name_or_id))
        return self.heat.stacks.get(name_or_id)

    def resources(self, stack: str, **query: Any) -> list[FakeResource]:
        self.heat.calls.append(("resources", stack))
        if stack in self.heat.broken or stack not in self.heat.stacks:
            raise FakeHeatError(f"stack {stack} not readable")
        return list(self.heat.resources[stack])


@dataclasses.dataclass
class FakeServer:
    id: str
    status: str = "ACTIVE"


class FakeCompute:
    """Nova as Heat left it: every server some stack's resource names."""

    def __init__(self, heat: FakeHeat) -> None:
        self.heat = heat
        self.down = False
        # server id -> API status other than ACTIVE
        self.status: dict[str, str] = {}

    def servers(self, all_projects: bool = False) -> list[FakeServer]:
        if self.down:
            raise FakeHeatError("nova down")
        return [FakeServer(r.physical_resource_id,
                           self.status.get(r.physical_resource_id, "ACTIVE"))
                for resources in self.heat.resources.values()
                for r in resources if r.resource_type == "OS::Nova::Server"]


class FakeConnection:
    current_project_id = "service-project"

    def __init__(self, heat: FakeHeat) -> None:
        self.orchestration = FakeOrchestration(heat)
        self.compute = FakeCompute(heat)


def cluster_heat() -> FakeHeat:
    """Root stack `web`: an ASG of 3 nested-stack units, an RG of 2 servers."""
    heat = FakeHeat()
    heat.add_stack(ROOT, "web")
    heat.add(ROOT, "asg", "OS::Heat::AutoScalingGroup", ASG_STACK,
             links=NESTED_LINK)
    # No "nested" link: the group type alone must be enough.
    heat.add(ROOT, "rg", "OS::Heat::ResourceGroup", RG_STACK)
    heat.add(ROOT, "scale_out", "OS::Heat::ScalingPolicy", "policy-1")
    heat.add(ROOT, "lb", "OS::Octavia::LoadBalancer", "lb-1")
    heat.add_stack(ASG_STACK, "web-asg-x", parent=ROOT)
    for i, member in enumerate(ASG_MEMBERS):
        add_asg_unit(heat, member, f"unit-stack-{i}", ASG_SERVERS[i])
    heat.add_stack(RG_STACK, "web-rg-y", parent=ROOT)
    for i, server in enumerate(RG_SERVERS):
        heat.add(RG_STACK, str(i), "OS::Nova::Server", server)
    return heat


def add_asg_unit(heat: FakeHeat, member: str, unit_stack: str,
                 server: str) -> None:
    heat.add(ASG_STACK, member, "unit.yaml", unit_stack, links=NESTED_LINK)
    heat.add_stack(unit_stack, f"web-asg-x-{member}", parent=ASG_STACK)
    heat.add(unit_stack, "server", "OS::Nova::Server", server)
    heat.add(unit_stack, "pool_member", "OS::Octavia::PoolMember", "pm")
    heat.add(unit_stack, "deployment", "OS::Heat::SoftwareDeployment", "sd")


def make_driver(heat: FakeHeat, **kw: Any) -> drv.HeatUnitDriver:
    kw.setdefault("heal_state", hs.no_heal_state)
    return drv.HeatUnitDriver(conn=FakeConnection(heat), **kw)


def by_id(events: list[dict]) -> dict[str, dict]:
    return {unit_id(e): e for e in events}


def asg_id(member: str) -> str:
    return f"{ROOT}/{ASG_STACK}/{member}"


def deleted(events: list[dict]) -> set[str]:
    return {unit_id(e) for e in events
            if e.get("vitrage_event_type") == "delete_entity"}


# -- snapshot ---------------------------------------------------------------
def test_snapshot_asg_units_and_rg_units() -> None:
    events = make_driver(cluster_heat()).get_all("init_snapshot")
    units = by_id(events)
    assert sorted(units) == sorted(
        [asg_id(m) for m in ASG_MEMBERS]
        + [f"{ROOT}/{RG_STACK}/0", f"{ROOT}/{RG_STACK}/1"])
    first = units[asg_id(ASG_MEMBERS[0])]
    assert {k: v for k, v in first.items() if not k.startswith("vitrage_")
            } == {
        "root_stack_id": ROOT, "stack_id": ASG_STACK,
        "resource_name": ASG_MEMBERS[0], "resource_type": "unit.yaml",
        "physical_id": "unit-stack-0", "group": ASG_STACK,
        "group_name": "asg", "group_size": 3, "state": "CREATE_COMPLETE",
        "state_reason": "", "server_ids": ["srv-asg-0"],
        "project_id": PROJECT, "name": f"web/asg/{ASG_MEMBERS[0]}",
        "heal_state": "", "selfheal_controls": ""}
    assert first["vitrage_entity_type"] == "heat.unit"
    assert first["vitrage_datasource_action"] == "init_snapshot"
    assert first["vitrage_datasource_name"] == "heat.unit"
    assert first["vitrage_sample_date"]
    rg1 = units[f"{ROOT}/{RG_STACK}/1"]
    assert (rg1["group"], rg1["group_name"], rg1["group_size"]) == (
        RG_STACK, "rg", 2)
    assert (rg1["physical_id"], rg1["server_ids"]) == ("srv-rg-1",
                                                       ["srv-rg-1"])


def test_snapshot_lists_all_projects_with_global_tenant() -> None:
    heat = cluster_heat()
    make_driver(heat).get_all("snapshot")
    assert ("get", "/stacks", {"global_tenant": True}) in heat.calls


def test_own_project_listing_uses_the_connections_project() -> None:
    heat = cluster_heat()
    events = make_driver(heat, all_projects=False).get_all("snapshot")
    assert {e["project_id"] for e in events} == {"service-project"}
    assert not [c for c in heat.calls if c[0] == "get"]


def test_listing_error_raises_so_vitrage_deletes_nothing(caplog) -> None:
    heat = cluster_heat()
    heat.list_status = 403
    counters = Counters()
    with caplog.at_level(logging.ERROR), pytest.raises(drv.HeatReadError):
        make_driver(heat, counters=counters).get_all("snapshot")
    assert counters.snapshot() == {drv.READ_ERRORS: 1}
    [line] = errors(caplog)
    assert "listing the root stacks of all projects failed" in line
    assert "HTTP 403" in line


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR and r.name == drv.LOG.name]


def test_group_inside_a_nested_stack_and_depth_limit() -> None:
    heat = FakeHeat()
    heat.add_stack("r", "outer")
    heat.add("r", "tier", "OS::Heat::Stack", "tier-stack")
    heat.add_stack("tier-stack", "outer-tier", parent="r")
    heat.add("tier-stack", "rg", "OS::Heat::ResourceGroup", "g")
    heat.add_stack("g", "outer-tier-rg", parent="tier-stack")
    heat.add("g", "0", "OS::Nova::Server", "s0")
    assert list(by_id(make_driver(heat).get_all("snapshot"))) == ["r/g/0"]
    assert make_driver(heat, nested_depth=1).get_all("snapshot") == []


def test_custom_group_types_and_members_without_servers() -> None:
    heat = FakeHeat()
    heat.add_stack("r", "rs")
    heat.add("r", "ig", "OS::Heat::InstanceGroup", "g")
    heat.add_stack("g", "rs-ig", parent="r")
    heat.add("g", "m0", "OS::Heat::TestResource", "t0")
    assert make_driver(heat).get_all("snapshot") == []
    events = make_driver(heat, group_types=["OS::Heat::InstanceGroup"]
                         ).get_all("snapshot")
    assert [(unit_id(e), e["server_ids"]) for e in events] == [
        ("r/g/m0", [])]


def test_heal_state_is_asked_with_the_ledger_unit_key() -> None:
    asked = []

    def heal_state(key: str) -> str:
        asked.append(key)
        return "HEALING" if key == f"{RG_STACK}/0" else ""

    events = by_id(make_driver(cluster_heat(), heal_state=heal_state)
                   .get_all("snapshot"))
    assert events[f"{ROOT}/{RG_STACK}/0"]["heal_state"] == "HEALING"
    assert events[f"{ROOT}/{RG_STACK}/1"]["heal_state"] == ""
    assert f"{ASG_STACK}/{ASG_MEMBERS[2]}" in asked


def test_unreadable_root_keeps_its_units_in_a_snapshot(caplog) -> None:
    heat = cluster_heat()
    counters = Counters()
    driver = make_driver(heat, counters=counters)
    driver.get_all("init_snapshot")
    assert counters.snapshot() == {} and not errors(caplog)
    heat.broken.add(ASG_STACK)
    with caplog.at_level(logging.ERROR):
        events = driver.get_all("snapshot")
    assert len(events) == 5 and not deleted(events)
    assert counters.get(drv.READ_ERRORS) == 1
    [line] = errors(caplog)
    assert line.startswith(f"heat.unit: reading root stack {ROOT} failed "
                           f"(FakeHeatError: stack {ASG_STACK} not readable)")
    assert "keeping its 5 units" in line


def test_nova_listing_failure_is_counted_and_logged(caplog) -> None:
    heat = cluster_heat()
    counters = Counters()
    driver = make_driver(heat, counters=counters)
    driver.conn.compute.down = True
    with caplog.at_level(logging.ERROR):
        events = driver.get_all("init_snapshot")
    # The Heat side is still reported; only server loss goes unseen.
    assert len(by_id(events)) == 5
    assert {e["state"] for e in events} == {"CREATE_COMPLETE"}
    assert counters.get(drv.READ_ERRORS) == 1
    [line] = errors(caplog)
    assert "listing Nova servers (all projects) failed (FakeHeatError: " \
           "nova down)" in line
    assert ROOT in line


def test_changes_are_only_what_changed() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    assert driver.get_changes("update") == []
    heat.find(RG_STACK, "1").status = "CHECK_FAILED"
    heat.remove(ASG_STACK, ASG_MEMBERS[0])
    events = driver.get_changes("update")
    assert deleted(events) == {asg_id(ASG_MEMBERS[0])}
    changed = {unit_id(e): (e["state"], e["group_size"]) for e in events
               if unit_id(e) not in deleted(events)}
    # The ASG's other units changed too: their group shrank.
    assert changed == {f"{ROOT}/{RG_STACK}/1": ("CHECK_FAILED", 2),
                       asg_id(ASG_MEMBERS[1]): ("CREATE_COMPLETE", 2),
                       asg_id(ASG_MEMBERS[2]): ("CREATE_COMPLETE", 2)}


# -- push ---------------------------------------------------------------------
def test_event_types_are_orchestration_stack_ends() -> None:
    types = drv.HeatUnitDriver.get_event_types()
    for t in ("orchestration.stack.create.end",
              "orchestration.stack.update.end",
              "orchestration.stack.delete.end",
              "orchestration.stack.check.end",
              "orchestration.stack.update.error"):
        assert t in types
    # Heat's .start is always followed by .end/.error; ours is a heal.
    assert [t for t in types if t.endswith(".start")] == [
        "selfheal.heal.start"]


def test_nested_stack_event_rereads_the_root() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    # A unit replaced by a heal: the old member goes, a new one comes.
    heat.remove(ASG_STACK, ASG_MEMBERS[1])
    add_asg_unit(heat, "zz9new", "unit-stack-9", "srv-asg-9")
    events = driver.enrich_event({"stack_identity": ASG_STACK},
                                 "orchestration.stack.update.end")
    assert deleted(events) == {asg_id(ASG_MEMBERS[1])}
    updates = by_id(e for e in events if unit_id(e) not in deleted(events))
    # Only the new unit: the unchanged ones are not re-sent.
    assert list(updates) == [asg_id("zz9new")]
    assert updates[asg_id("zz9new")]["server_ids"] == ["srv-asg-9"]
    assert {e["vitrage_datasource_action"] for e in events} == {"update"}
    # The stack shown by id has no project: the listing's is kept.
    assert {e["project_id"] for e in events} == {PROJECT}


def test_new_root_stack_is_found_by_walking_parents() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    arn = f"arn:openstack:heat::{PROJECT}:stacks/web-rg-y/{RG_STACK}"
    events = driver.enrich_event({"stack_identity": arn,
                                  "tenant_id": "proj-7"},
                                 "orchestration.stack.create.end")
    assert len(by_id(events)) == 5
    assert {e["project_id"] for e in events} == {"proj-7"}
    assert ("find_stack", RG_STACK) in heat.calls


def test_root_delete_end_deletes_its_units() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    heat.delete_stack(ROOT)
    events = driver.enrich_event({"stack_identity": ROOT},
                                 "orchestration.stack.delete.end")
    assert len(deleted(events)) == len(events) == 5
    assert driver.enrich_event({"stack_identity": ASG_STACK},
                               "orchestration.stack.update.end") == []


def test_nested_event_during_root_update_waits_for_the_root() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    heat.stacks[ROOT].status = "UPDATE_IN_PROGRESS"
    heat.remove(ASG_STACK, ASG_MEMBERS[1])
    add_asg_unit(heat, "zz9new", "unit-stack-9", "srv-asg-9")
    assert driver.enrich_event({"stack_identity": "unit-stack-0"},
                               "orchestration.stack.update.end") == []
    heat.stacks[ROOT].status = "UPDATE_COMPLETE"
    events = driver.enrich_event({"stack_identity": ROOT},
                                 "orchestration.stack.update.end")
    assert sorted(unit_id(e) for e in events) == sorted(
        [asg_id(ASG_MEMBERS[1]), asg_id("zz9new")])
    # Nothing changed since: nothing to send.
    assert driver.enrich_event({"stack_identity": ROOT},
                               "orchestration.stack.update.end") == []


def test_heat_errors_on_push(monkeypatch) -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    heat.broken.add(RG_STACK)
    # A failed re-read on a notification deletes nothing (and sends
    # nothing: what was known is in the graph already).
    assert driver.enrich_event({"stack_identity": ROOT},
                               "orchestration.stack.update.end") == []

    def heat_down(*args: Any, **kwargs: Any) -> None:
        raise FakeHeatError("heat down")

    monkeypatch.setattr(driver.conn.orchestration, "find_stack", heat_down)
    assert driver.enrich_event({"stack_identity": "unknown"},
                               "orchestration.stack.update.end") == []
    assert driver.enrich_event({}, "orchestration.stack.update.end") == []


def test_heat_errors_on_push_are_counted_and_name_the_stack(
        monkeypatch, caplog) -> None:
    heat = cluster_heat()
    counters = Counters()
    driver = make_driver(heat, counters=counters)
    driver.get_all("init_snapshot")

    def heat_down(*args: Any, **kwargs: Any) -> None:
        raise FakeHeatError("heat down")

    monkeypatch.setattr(driver.conn.orchestration, "find_stack", heat_down)
    with caplog.at_level(logging.ERROR):
        assert driver.enrich_event({"stack_identity": "unknown"},
                                   "orchestration.stack.update.end") == []
        assert driver.enrich_event({"instance_id": ASG_SERVERS[0]},
                                   "compute.instance.delete.end") == []
    assert counters.get(drv.READ_ERRORS) == 2
    assert errors(caplog) == [
        "heat.unit: orchestration.stack.update.end for stack unknown not "
        "handled",
        f"heat.unit: compute.instance.delete.end for server "
        f"{ASG_SERVERS[0]} not handled"]


# -- heal state from the ledger ----------------------------------------------
def test_lifecycle_notifications_refresh_heal_state_without_heat() -> None:
    states: dict[str, str] = {}
    heat = cluster_heat()
    driver = make_driver(heat, heal_state=lambda key: states.get(key, ""))
    driver.get_all("init_snapshot")
    reads = len(heat.calls)
    key = f"{RG_STACK}/0"
    states[key] = "HEALING"
    start = {"root_stack_id": ROOT, "unit": key, "reason": "BATCH_DISPATCHED"}
    events = driver.enrich_event(start, "selfheal.heal.start")
    assert [(unit_id(e), e["heal_state"]) for e in events] == [
        (f"{ROOT}/{key}", "HEALING")]
    assert driver.enrich_event(start, "selfheal.heal.start") == []
    # An operation's decision (no unit): every unit of the stack is asked.
    states[key] = "HEALED"
    states[f"{RG_STACK}/1"] = "HELD:STORM_GUARD"
    events = driver.enrich_event({"root_stack_id": ROOT, "unit": None},
                                 "selfheal.heal.error")
    assert sorted(e["heal_state"] for e in events) == [
        "HEALED", "HELD:STORM_GUARD"]
    assert len(heat.calls) == reads
    # Not ours, or not a mapping: nothing.
    assert driver.enrich_event({"root_stack_id": "other"},
                               "selfheal.hold.cooldown") == []
    assert driver.enrich_event(["x"], "selfheal.heal.end") == []
    assert "selfheal.hold.storm_guard" in driver.get_event_types()


def test_ledger_heal_state(tmp_path) -> None:
    from vitrage_selfheal.ledger.store import HoldKind, Ledger, stack_scope
    from vitrage_selfheal.model import Unit

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.upgrade()
    now = 1000.0
    units = {n: Unit(ROOT, RG_STACK, n) for n in "01234"}
    with ledger.transaction() as tx:
        for unit in units.values():
            tx.upsert_unit(unit)
        tx.add_intent(units["0"], "alarm#1", now)
        tx.unit(units["1"].key).held_reason = "FLAPPING"
        tx.unit(units["2"].key).last_healed_at = now - 10
        row = tx.unit(units["3"].key)
        row.held_reason, row.held_until = "COOLDOWN", now - 1
    state = hs.LedgerHealState(ledger, clock=lambda: now)
    assert [state(units[n].key) for n in "01234"] == [
        "HEALING", "HELD:FLAPPING", "HEALED", "", ""]
    # HEALED lasts `healed_for` (the cooldown), then the unit is plain.
    assert hs.LedgerHealState(ledger, clock=lambda: now + 289,
                              healed_for=300)(units["2"].key) == "HEALED"
    assert hs.LedgerHealState(ledger, clock=lambda: now + 290,
                              healed_for=300)(units["2"].key) == ""
    assert state("nowhere/x") == ""
    with ledger.transaction() as tx:
        tx.set_hold(stack_scope(ROOT), HoldKind.BREAKER, "3 failures", now)
    assert state(units["4"].key) == "HELD:CIRCUIT_OPEN"
    ledger.dispose()


def test_unreadable_ledger_gives_empty_heal_state(tmp_path) -> None:
    from vitrage_selfheal.ledger.store import Ledger

    state = hs.LedgerHealState(Ledger(f"sqlite:///{tmp_path / 'none.db'}"))
    assert state("s/0") == "" and state("s/1") == ""
    assert hs.from_url("") is hs.no_heal_state


# -- packaging ----------------------------------------------------------------
def test_vitrage_module_path_for_heat_unit_has_opts() -> None:
    # vitrage.opts.register_opts imports "<path>.<type>" for each path.
    module = importlib.import_module("vitrage_selfheal.datasources."
                                     "heat.unit")
    opts = {o.name: o.default for o in module.OPTS}
    assert opts["update_method"] == "push"
    assert opts["group_types"] == ["OS::Heat::AutoScalingGroup",
                                   "OS::Heat::ResourceGroup"]
    for key in ("driver", "transformer"):
        path, _, name = opts[key].rpartition(".")
        assert getattr(importlib.import_module(path), name)


def test_values_dir_holds_vitrage_files_and_ours() -> None:
    names = set(os.listdir(values_dir()))
    assert {"heat.unit.yaml", "heat.stack.yaml", "nova.instance.yaml",
            "static.yaml", "switch.yaml", "default.yaml", "LICENSE",
            "README.rst"} <= names
    assert len([n for n in names if n.endswith(".yaml")]) == 27


def test_the_root_stacks_selfheal_tags_are_the_units_controls() -> None:
    heat = cluster_heat()
    heat.stacks[ROOT].tags = ["team-web", "selfheal:exclude",
                              "selfheal:Enabled", "selfheal:"]
    units = by_id(make_driver(heat).get_all("snapshot"))
    assert {u["selfheal_controls"] for u in units.values()} == {
        "enabled,exclude"}
