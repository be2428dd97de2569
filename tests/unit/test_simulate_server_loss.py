"""The simulator marks a unit SERVER_MISSING exactly when the heat.unit
driver would: both run server_loss.mark_missing."""

from __future__ import annotations

import pytest

from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.simulate import scenario
from vitrage_selfheal.simulate.cloud import SimulatedCloud

pytest.importorskip("vitrage")

SPEC = {
    "name": "one unit, two servers",
    "topology": {
        "hosts": ["h1"],
        "instances": [{"id": "vm-0", "host": "h1"},
                      {"id": "vm-0b", "host": "h1"}],
        "stacks": [{"id": "root", "name": "c", "groups": [{
            "name": "asg", "stack_id": "grp",
            "units": [{"name": "u-0", "servers": ["vm-0", "vm-0b"]}]}]}],
    },
    "timeline": [],
    "duration": 10,
}


class _Engine:
    def __init__(self) -> None:
        self.snapshots: list[tuple[str, list[dict]]] = []

    def snapshot(self, datasource: str, events: list, action: str) -> None:
        self.snapshots.append((datasource, events))

    def push(self, event_type: str, payload: dict) -> None:
        pass


def _delete(tmp_path, root_status: str) -> list[dict]:
    cloud = SimulatedCloud(scenario.parse(SPEC), tmp_path, FakeClock())
    cloud.stack_status["root"] = root_status
    engine = _Engine()
    cloud.apply(scenario.Event(5.0, "instance_deleted", "vm-0"), engine)
    return [e for ds, events in engine.snapshots if ds == "heat.unit"
            for e in events]


def test_a_server_deleted_out_of_band_makes_its_unit_missing(tmp_path):
    [unit] = _delete(tmp_path, "CREATE_COMPLETE")
    assert unit["state"] == "SERVER_MISSING"
    assert unit["server_ids"] == ["vm-0b"]
    assert "vm-0 deleted outside Heat" in unit["state_reason"]


def test_a_server_deleted_while_heat_updates_the_stack_is_heats(tmp_path):
    assert _delete(tmp_path, "UPDATE_IN_PROGRESS") == []
