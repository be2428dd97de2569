"""heat.unit: a server deleted outside Heat turns its unit SERVER_MISSING;
one gone to ERROR or stopped, SERVER_ERROR / SERVER_STOPPED."""

from __future__ import annotations

from tests.unit.test_heat_unit_datasource import (
    ASG_MEMBERS,
    ASG_SERVERS,
    ASG_STACK,
    RG_SERVERS,
    ROOT,
    asg_id,
    by_id,
    cluster_heat,
    make_driver,
)
from vitrage_selfheal.datasources.heat.unit.properties import unit_id


class _Server:
    def __init__(self, ident: str) -> None:
        self.id = ident


class _Compute:
    def __init__(self, ids) -> None:
        self.ids = list(ids)

    def servers(self, all_projects: bool = False):
        assert all_projects
        return [_Server(i) for i in self.ids]


def test_nova_delete_of_a_settled_unit_marks_it_missing() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    events = driver.enrich_event({"instance_id": ASG_SERVERS[1]},
                                 "compute.instance.delete.end")
    unit = by_id(events)[asg_id(ASG_MEMBERS[1])]
    assert unit["state"] == "SERVER_MISSING"
    assert unit["server_ids"] == []
    assert ASG_SERVERS[1] in unit["state_reason"]
    assert len(events) == 1


def test_versioned_notification_is_understood_too() -> None:
    driver = make_driver(cluster_heat())
    driver.get_all("init_snapshot")
    events = driver.enrich_event(
        {"nova_object.data": {"uuid": RG_SERVERS[0]}}, "instance.delete.end")
    assert [e["state"] for e in events] == ["SERVER_MISSING"]


def test_delete_by_heat_itself_is_not_a_loss() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    heat.stacks[ROOT].status = "UPDATE_IN_PROGRESS"
    assert driver.enrich_event({"instance_id": ASG_SERVERS[0]},
                               "compute.instance.delete.end") == []


def test_unknown_server_is_ignored() -> None:
    driver = make_driver(cluster_heat())
    driver.get_all("init_snapshot")
    assert driver.enrich_event({"instance_id": "not-ours"},
                               "compute.instance.delete.end") == []


def test_snapshot_marks_units_whose_server_nova_does_not_list() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.conn.compute = _Compute(
        [s for s in ASG_SERVERS + RG_SERVERS if s != ASG_SERVERS[2]])
    units = by_id(driver.get_all("init_snapshot"))
    assert units[asg_id(ASG_MEMBERS[2])]["state"] == "SERVER_MISSING"
    assert units[asg_id(ASG_MEMBERS[0])]["state"] == "CREATE_COMPLETE"


# -- ERROR and stopped, from Nova's instance updates and its server list --
def legacy_update(server: str, state: str, task: str | None = None) -> dict:
    return {"instance_id": server, "state": state, "old_state": "active",
            "new_task_state": task}


def test_a_server_gone_to_error_marks_its_unit_at_once() -> None:
    driver = make_driver(cluster_heat())
    driver.get_all("init_snapshot")
    events = driver.enrich_event(legacy_update(ASG_SERVERS[1], "error"),
                                 "compute.instance.update")
    unit, = events
    assert unit_id(unit) == asg_id(ASG_MEMBERS[1])
    assert unit["state"] == "SERVER_ERROR"
    assert unit["server_ids"] == [ASG_SERVERS[1]]    # still its server
    assert ASG_SERVERS[1] in unit["state_reason"]
    # Told again (Nova sends an update per task state): nothing new.
    assert driver.enrich_event(legacy_update(ASG_SERVERS[1], "error"),
                               "compute.instance.update") == []


def test_versioned_update_and_power_off_mark_it_stopped() -> None:
    driver = make_driver(cluster_heat())
    driver.get_all("init_snapshot")
    events = driver.enrich_event(
        {"nova_object.data": {"uuid": RG_SERVERS[1], "state": "stopped"}},
        "instance.update")
    assert [e["state"] for e in events] == ["SERVER_STOPPED"]
    events = driver.enrich_event(legacy_update(ASG_SERVERS[0], "stopped"),
                                 "compute.instance.power_off.end")
    assert [e["state"] for e in events] == ["SERVER_STOPPED"]


def test_heat_at_work_or_a_suspended_stack_is_no_loss() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    heat.stacks[ROOT].status = "UPDATE_IN_PROGRESS"
    assert driver.enrich_event(legacy_update(ASG_SERVERS[0], "error"),
                               "compute.instance.update") == []
    heat.stacks[ROOT].status = "SUSPEND_COMPLETE"
    for member in ASG_MEMBERS:
        heat.find(ASG_STACK, member).status = "SUSPEND_COMPLETE"
    driver.get_all("snapshot")
    assert driver.enrich_event(legacy_update(ASG_SERVERS[0], "stopped"),
                               "compute.instance.update") == []


def test_serving_again_re_reads_the_stack_and_clears_the_state() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    driver.enrich_event(legacy_update(ASG_SERVERS[2], "error"),
                        "compute.instance.update")
    reads = len(heat.calls)
    events = driver.enrich_event(legacy_update(ASG_SERVERS[2], "active"),
                                 "compute.instance.update")
    assert len(heat.calls) > reads
    unit, = events
    assert unit_id(unit) == asg_id(ASG_MEMBERS[2])
    assert unit["state"] == "CREATE_COMPLETE"


def test_other_servers_updates_cost_no_heat_read() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.get_all("init_snapshot")
    reads = len(heat.calls)
    for state in ("building", "active", "error", "stopped"):
        assert driver.enrich_event(legacy_update("not-ours", state),
                                   "compute.instance.update") == []
    # A healthy server of ours changing task state: no read either.
    assert driver.enrich_event(legacy_update(ASG_SERVERS[0], "active",
                                             "rebooting"),
                               "compute.instance.update") == []
    assert len(heat.calls) == reads
    assert driver.enrich_event({"instance_id": ASG_SERVERS[0]},
                               "compute.instance.update") == []


def test_snapshot_reads_error_and_shutoff_from_nova() -> None:
    heat = cluster_heat()
    driver = make_driver(heat)
    driver.conn.compute.status = {ASG_SERVERS[0]: "ERROR",
                                  RG_SERVERS[0]: "SHUTOFF",
                                  RG_SERVERS[1]: "SHELVED_OFFLOADED"}
    units = by_id(driver.get_all("init_snapshot"))
    assert units[asg_id(ASG_MEMBERS[0])]["state"] == "SERVER_ERROR"
    states = sorted(u["state"] for u in units.values())
    assert states.count("SERVER_STOPPED") == 1
    # Shelved on purpose: left alone; the others untouched.
    assert states.count("CREATE_COMPLETE") == 3
