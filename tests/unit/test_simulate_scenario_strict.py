"""Strict scenario files: every bad field is a ScenarioError naming its
dotted path, never an ignored key or a run that silently does nothing."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from vitrage_selfheal import paths
from vitrage_selfheal.simulate import expect, scenario
from vitrage_selfheal.simulate.report import Report

GOOD = {
    "name": "strict",
    "policy": {"cooldown": 30, "max_unhealthy": "50%"},
    "topology": {
        "hosts": ["h1", "h2"],
        "instances": [{"id": "vm-0", "host": "h1"},
                      {"id": "vm-1", "host": "h2"}],
        "stacks": [{"id": "stack-a", "groups": [{
            "name": "asg", "stack_id": "group-a",
            "units": [{"name": "u-0", "servers": ["vm-0"]},
                      {"name": "u-1", "servers": ["vm-1"]}]}]}],
        "switches": [{"id": "sw-1", "hosts": ["h1"]}],
    },
    "timeline": [
        {"at": 1, "host_down": "h1"},
        {"at": 2, "alarm": {"name": "a", "resource": "vm-0"}},
        {"at": 3, "alarm_clear": {"name": "a", "resource": "vm-0"}},
        {"at": 4, "instance_state": {"id": "vm-0~1", "status": "ERROR"}},
        {"at": 5, "scale": {"group": "group-a", "by": 1}},
        {"at": 6, "switch_down": "sw-1"},
        {"at": 7, "stack_status": {"stack": "stack-a",
                                   "status": "UPDATE_IN_PROGRESS"}},
        {"at": 8, "shadow": {"enabled": True, "stack": "stack-a"}},
    ],
    "expect": {"executions": {"stack-a": 1},
               "units_healed": ["group-a/u-0"],
               "not_healed": ["group-a/u-1"],
               "reasons": ["FIRST_HEAL"], "engine_errors": 0},
}


def _with(path: str, value, delete: bool = False) -> dict:
    doc = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    elif delete:
        del node[last]
    else:
        node[last] = value
    return doc


def test_the_good_document_loads() -> None:
    spec = scenario.parse(copy.deepcopy(GOOD))
    assert len(spec.timeline) == 8
    assert spec.expect.count() == 5


BAD = [
    ("top-unknown", _with("timelines", []), "scenario.timelines: unknown key"),
    ("topology-unknown", _with("topology.stack", []),
     "scenario.topology.stack: unknown key"),
    ("instance-unknown", _with("topology.instances.0",
                               {"id": "vm-0", "host": "h1", "zone": "x"}),
     "scenario.topology.instances[0].zone: unknown key"),
    ("instance-status", _with("topology.instances.0",
                              {"id": "vm-0", "host": "h1",
                               "status": "EROR"}),
     "scenario.topology.instances[0].status: 'EROR' is not one of"),
    ("instance-id-list", _with("topology.instances.0",
                               {"id": ["vm-0"], "host": "h1"}),
     "scenario.topology.instances[0].id: expected a name"),
    ("instance-twice", _with("topology.instances.1",
                             {"id": "vm-0", "host": "h2"}),
     "instance id 'vm-0' appears twice"),
    ("stack-unknown", _with("topology.stacks.0.tag", ["x"]),
     "scenario.topology.stacks[0].tag: unknown key"),
    ("stack-status", _with("topology.stacks.0.status", "BROKEN"),
     "scenario.topology.stacks[0].status: 'BROKEN' is not a Heat status"),
    ("group-unknown", _with("topology.stacks.0.groups.0.size", 2),
     "scenario.topology.stacks[0].groups[0].size: unknown key"),
    ("group-min-float", _with("topology.stacks.0.groups.0.min_size", 1.5),
     "groups[0].min_size: expected an integer, got 1.5"),
    ("group-over-max", _with("topology.stacks.0.groups.0.max_size", 1),
     "groups[0].units: 2 units, more than max_size 1"),
    ("unit-unknown", _with("topology.stacks.0.groups.0.units.0",
                           {"name": "u-0", "server": ["vm-0"]}),
     "groups[0].units[0].server: unknown key"),
    ("unit-twice", _with("topology.stacks.0.groups.0.units.1",
                         {"name": "u-0", "servers": ["vm-1"]}),
     "unit name 'u-0' appears twice"),
    ("switch-unknown", _with("topology.switches.0.host", ["h1"]),
     "scenario.topology.switches[0].host: unknown key"),
    ("no-events", _with("timeline", []),
     "scenario.timeline: no events"),
    ("after-duration", _with("duration", 5),
     "scenario.timeline[5].at: 6 is after duration 5"),
    ("host-unknown", _with("timeline.0", {"at": 1, "host_down": "h9"}),
     "scenario.timeline[0].host_down: 'h9' is not in topology.hosts"),
    ("host-list", _with("timeline.0", {"at": 1, "host_down": ["h1"]}),
     "scenario.timeline[0].host_down: expected a name"),
    ("state-no-status", _with("timeline.3", {
        "at": 4, "instance_state": {"id": "vm-0"}}),
     "scenario.timeline[3].instance_state.status: required"),
    ("state-unknown-key", _with("timeline.3", {
        "at": 4, "instance_state": {"id": "vm-0", "status": "ERROR",
                                    "host": "h1"}}),
     "scenario.timeline[3].instance_state.host: unknown key"),
    ("state-unknown-instance", _with("timeline.3", {
        "at": 4, "instance_state": {"id": "vm-9", "status": "ERROR"}}),
     "scenario.timeline[3].instance_state.id: 'vm-9' is not in"),
    ("state-a-list", _with("timeline.3", {
        "at": 4, "instance_state": ["vm-0", "ERROR"]}),
     "scenario.timeline[3].instance_state: expected a mapping, got list"),
    ("alarm-no-name", _with("timeline.1", {
        "at": 2, "alarm": {"resource": "vm-0"}}),
     "scenario.timeline[1].alarm.name: required"),
    ("alarm-unknown-key", _with("timeline.1", {
        "at": 2, "alarm": {"name": "a", "resource": "vm-0", "sev": "x"}}),
     "scenario.timeline[1].alarm.sev: unknown key"),
    ("alarm-severity-not-aodhs", _with("timeline.1", {
        "at": 2, "alarm": {"name": "a", "resource": "vm-0",
                           "severity": "warning"}}),
     "scenario.timeline[1].alarm.severity: 'warning' is not in Aodh's "
     "alarm severities"),
    ("alarm-unknown-resource", _with("timeline.1", {
        "at": 2, "alarm": {"name": "a", "resource": "vm-7"}}),
     "scenario.timeline[1].alarm.resource: 'vm-7' is neither"),
    ("clear-never-raised", _with("timeline.2", {
        "at": 3, "alarm_clear": {"name": "b", "resource": "vm-0"}}),
     "scenario.timeline[2].alarm_clear: no alarm 'b' on 'vm-0' fires"),
    ("scale-by-str", _with("timeline.4", {
        "at": 5, "scale": {"group": "group-a", "by": "1"}}),
     "scenario.timeline[4].scale.by: expected an integer, got '1'"),
    ("scale-by-zero", _with("timeline.4", {
        "at": 5, "scale": {"group": "group-a", "by": 0}}),
     "scenario.timeline[4].scale.by: must not be 0"),
    ("scale-unknown-group", _with("timeline.4", {
        "at": 5, "scale": {"group": "asg", "by": 1}}),
     "scenario.timeline[4].scale.group: 'asg' is not in"),
    ("scale-wrong-stack", _with("timeline.4", {
        "at": 5, "scale": {"stack": "stack-b", "group": "group-a",
                           "by": 1}}),
     "scenario.timeline[4].scale.stack: 'stack-b' is not the root"),
    ("switch-unknown-id", _with("timeline.5", {"at": 6,
                                               "switch_down": "sw-9"}),
     "scenario.timeline[5].switch_down: 'sw-9' is not in"),
    ("stack-status-unknown", _with("timeline.6", {
        "at": 7, "stack_status": {"stack": "stack-z", "status":
                                  "UPDATE_IN_PROGRESS"}}),
     "scenario.timeline[6].stack_status.stack: 'stack-z' is not in"),
    ("shadow-on", _with("timeline.7", {"at": 8, "shadow": {"on": True}}),
     "scenario.timeline[7].shadow.on: unknown key"),
    ("hook-without-hook", _with("timeline.7", {"at": 8,
                                               "hook_abandons": "stack-a"}),
     "scenario.timeline[7].hook_abandons: needs policy.pre_replace_hook"),
    ("heal-fails-unknown", _with("timeline.7", {"at": 8,
                                                "heal_fails": "stack-b"}),
     "scenario.timeline[7].heal_fails: 'stack-b' is not in"),
    ("policy-unknown", _with("policy.cooldwn", 3),
     "scenario.policy.cooldwn: not a policy option"),
    ("policy-str", _with("policy.cooldown", "300"),
     "scenario.policy.cooldown: expected a number, got '300'"),
    ("policy-negative", _with("policy.cooldown", -1),
     "scenario.policy.cooldown: Should be greater than or equal to 0"),
    ("policy-threshold", _with("policy.max_unhealthy", "150%"),
     "scenario.policy.max_unhealthy: max_unhealthy '150%' must be"),
    ("policy-ladder", _with("policy.remediation_ladder", "reboot:30"),
     "scenario.policy.remediation_ladder: ladder 'reboot:30' must end"),
    ("policy-windows-str", _with("policy.maintenance_windows", "sat"),
     "scenario.policy.maintenance_windows: expected a list of strings"),
    ("policy-bool", _with("policy.shadow", "yes"),
     "scenario.policy.shadow: expected true or false"),
    ("policy-choice", _with("policy.pre_replace_default", "MAYBE"),
     "scenario.policy.pre_replace_default: Valid values are"),
    ("expect-unknown", _with("expect.heals", 1),
     "scenario.expect.heals: unknown key"),
    ("expect-stack", _with("expect.executions", {"stack-b": 1}),
     "scenario.expect.executions.stack-b: not in topology.stacks"),
    ("expect-count-str", _with("expect.executions", {"stack-a": "1"}),
     "scenario.expect.executions.stack-a: expected an integer"),
    ("expect-unit", _with("expect.units_healed", ["a-0"]),
     "scenario.expect.units_healed[0]: 'a-0' is not a unit"),
    ("expect-units-str", _with("expect.units_healed", "group-a/u-0"),
     "scenario.expect.units_healed: expected a list of units or a mapping"),
    ("expect-reason", _with("expect.reasons", ["FIRST_HEALS"]),
     "scenario.expect.reasons[0]: 'FIRST_HEALS' is not a decision reason"),
    ("expect-both", _with("expect.not_healed", ["group-a/u-0"]),
     "scenario.expect.not_healed: 'group-a/u-0' is also in units_healed"),
    ("expect-errors-negative", _with("expect.engine_errors", -1),
     "scenario.expect.engine_errors: must be at least 0"),
]


@pytest.mark.parametrize("doc, message", [
    pytest.param(doc, message, id=case) for case, doc, message in BAD])
def test_a_bad_field_names_its_path(doc: dict, message: str) -> None:
    with pytest.raises(scenario.ScenarioError) as raised:
        scenario.parse(doc)
    assert message in str(raised.value)


def test_an_idle_run_with_a_duration_is_intended() -> None:
    spec = scenario.parse(_with("timeline", []) | {"duration": 30})
    assert spec.timeline == ()


def test_expectations_are_checked_against_the_report() -> None:
    spec = scenario.parse(copy.deepcopy(GOOD))
    report = Report(0.0)
    report.executions = [{"stack": "stack-a", "units": ["group-a/u-1"],
                          "state": "SUCCESS"}] * 2
    report.entries = [
        {"t": 1, "kind": "decision", "reason": "FIRST_HEAL",
         "unit": "group-a/u-1"},
        {"t": 2, "kind": "decision", "reason": "EXECUTION_SUCCEEDED",
         "unit": "group-a/u-1"},
        {"t": 3, "kind": "engine_error", "text": "ValueError: boom"}]
    failures = expect.check(spec.expect, report)
    assert failures == [
        "executions.stack-a: expected 1, got 2 [['group-a/u-1'], "
        "['group-a/u-1']]",
        "units_healed.group-a/u-0: expected at least 1 heal(s), got 0; "
        "its decisions: none",
        "not_healed.group-a/u-1: healed 1 time(s); its decisions: "
        "FIRST_HEAL, EXECUTION_SUCCEEDED",
        "engine_errors: expected 0, got 1\n    ValueError: boom"]


@pytest.mark.parametrize("text, words", [
    ("- a\n", "expected a mapping, got list"),
    ("a: [\n", "while parsing"),
    ("name: x\ntimeline: [{at: 1, host_down: h9}]\n",
     "timeline[0].host_down: 'h9' is not in topology.hosts"),
])
def test_simulate_exits_2_on_a_bad_file(tmp_path, text: str,
                                        words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "vitrage_selfheal.cli.main", "simulate",
         str(path)], capture_output=True, text=True, timeout=120,
        cwd=paths.CHECKOUT)
    assert done.returncode == 2
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
