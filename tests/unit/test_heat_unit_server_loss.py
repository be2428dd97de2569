"""heat.unit: a server deleted outside Heat turns its unit SERVER_MISSING."""

from __future__ import annotations

from tests.unit.test_heat_unit_datasource import (
    ASG_MEMBERS,
    ASG_SERVERS,
    RG_SERVERS,
    ROOT,
    asg_id,
    by_id,
    cluster_heat,
    make_driver,
)


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
