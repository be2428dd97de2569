"""Issue acceptance on the REAL Vitrage engine: scenarios/ through simulate.

Each scenario runs Vitrage 15's processor, evaluator and graph notifier with
our datasource, templates and notifier plugin, and the real decision
pipeline; only Mistral and Heat are the simulator's recording executor.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from vitrage_selfheal import paths
from vitrage_selfheal.simulate import runner, scenario

pytestmark = pytest.mark.engine
pytest.importorskip("vitrage")

SCENARIOS = paths.CHECKOUT / "scenarios"
TEMPLATES = [str(paths.CHECKOUT / "templates")]


def simulate(name: str, tmp_path: pathlib.Path):
    return runner.run(scenario.load(SCENARIOS / f"{name}.yaml"), TEMPLATES,
                      tmp_path)


def reasons(report, unit: str | None = None) -> list[str]:
    return [d["reason"] for d in report.decisions()
            if unit is None or d["unit"] == unit]


def test_server_deleted_heals_that_unit_once(tmp_path):
    report = simulate("server_deleted", tmp_path)
    assert report.heals() == [{"stack": "stack-a", "units": ["group-a/a-0"],
                               "state": "SUCCESS"}]
    deduced = [e for e in report.entries if e["kind"] == "deduced"
               and e["change"] == "activate"]
    assert deduced[0]["name"] == "selfheal.heal: server lost"
    assert deduced[0]["resource"] == "heat.unit stack-a/group-a/a-0"
    # The second alarm on the same unit starts nothing.
    assert "ALREADY_HEALING" in reasons(report, "group-a/a-0")
    assert reasons(report).count("BATCH_DISPATCHED") == 1


def test_flapping_alarm_heals_once_then_cooldown(tmp_path):
    report = simulate("flapping", tmp_path)
    assert len(report.heals()) == 1
    after = reasons(report, "group-a/a-1")
    assert after.count("FIRST_HEAL") == 1
    assert after.count("COOLDOWN") == 5


def test_no_heal_input_contains_unresolved_template_text(tmp_path):
    report = simulate("two_alarms_one_clears", tmp_path)
    text = json.dumps(report.as_json())
    assert "get_attr(" not in text
    assert "get_attr(" not in json.dumps(report.heals())
    # The unit stays unhealthy (its server is in ERROR): it is healed.
    assert [h["units"] for h in report.heals()] == [["group-a/a-2"]]


def test_host_down_heals_each_stack_in_one_execution(tmp_path):
    report = simulate("host_down_two_stacks", tmp_path)
    assert report.heals() == [
        {"stack": "stack-a", "state": "SUCCESS",
         "units": ["group-a/a-0", "group-a/a-1", "group-a/a-2"]},
        {"stack": "stack-b", "state": "SUCCESS",
         "units": ["group-b/0", "group-b/1"]},
    ]
    chains = [e for e in report.entries if e["kind"] == "deduced"
              and e["name"] == "selfheal.heal: host down"
              and e["change"] == "activate"]
    assert len(chains) == 5
    for e in chains:
        assert e["causes"][-1] == "compute.host.down on nova.host h1"


def test_switch_down_holds_units_without_heal(tmp_path):
    report = simulate("switch_down", tmp_path)
    assert report.heals() == []
    held = {d["unit"] for d in report.decisions("SUPPRESSED_BY_ROOT_CAUSE")}
    assert held == {"group-a/a-0", "group-a/a-1"}
    assert "FIRST_HEAL" not in reasons(report)


def test_storm_in_a_group_heals_nothing(tmp_path):
    report = simulate("storm", tmp_path)
    assert report.heals() == []
    storm = {d["unit"] for d in report.decisions("STORM_GUARD")}
    assert storm == {"group-a/a-0", "group-a/a-1", "group-a/a-2"}


@pytest.mark.parametrize("name", ["root_cause_blip",
                                  "root_cause_blip_slow_clear"])
def test_root_cause_blip_replaces_no_healthy_unit(tmp_path, name):
    report = simulate(name, tmp_path)
    assert report.heals() == []
    settling = {d["unit"] for d in report.decisions("ROOT_CAUSE_SETTLING")}
    assert settling == {"group-a/a-0", "group-a/a-1", "group-a/a-2"}
    assert "FIRST_HEAL" not in reasons(report)


def test_small_groups_heal_with_the_default_policy(tmp_path):
    report = simulate("small_groups", tmp_path)
    assert report.heals() == [
        {"stack": "stack-pair", "state": "SUCCESS",
         "units": ["group-pair/p-1"]},
        {"stack": "stack-single", "state": "SUCCESS",
         "units": ["group-single/s-0"]},
    ]
    assert "STORM_GUARD" not in reasons(report)


@pytest.mark.parametrize("name", ["host_down_two_stacks", "storm",
                                  "root_cause_blip", "small_groups",
                                  "scale_in_unhealthy"])
def test_results_identical_for_any_hash_seed(name):
    outputs = {}
    for seed in ("0", "1", "2", "random"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run(
            [sys.executable, "-m", "vitrage_selfheal.cli.main", "simulate",
             str(SCENARIOS / f"{name}.yaml"), "--json",
             "--templates", TEMPLATES[0]],
            env=env, capture_output=True, text=True, timeout=300,
            cwd=paths.CHECKOUT)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs[seed] = json.loads(done.stdout)
    first = outputs["0"]
    for seed, out in outputs.items():
        assert out == first, f"PYTHONHASHSEED={seed} differs"


def test_bad_scenario_names_the_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("topology: {hosts: [h1], instances: [{id: v, host: h9}]}")
    with pytest.raises(scenario.ScenarioError,
                       match=r"topology.instances\[0\].host"):
        scenario.load(bad)


# -- scaling on the same queue (issue: auto-scaling that never fights
# healing) ------------------------------------------------------------------

def executions_in_order(report) -> list[tuple[float, str]]:
    return [(e["t"], e["change"]) for e in report.entries
            if e["kind"] == "execution"]


def never_two_at_once(report) -> None:
    running = 0
    for _, change in executions_in_order(report):
        running += 1 if change == "start" else -1
        assert running <= 1, "two operations on one stack at once"


def test_heal_during_a_scale_waits_then_runs_and_grace_holds(tmp_path):
    report = simulate("heal_during_scale", tmp_path)
    heals = report.heals()
    assert [h.get("scale") for h in heals if "scale" in h] == [
        "group-a 3->4"]
    assert sorted(h["units"] for h in heals if "scale" not in h) == [
        ["group-a/scaled-1"], ["group-a/u-1"]]
    never_two_at_once(report)
    assert "STACK_BUSY" in reasons(report, "group-a/u-1")
    # The unit the scale-out created: held while booting, healed after.
    assert reasons(report, "group-a/scaled-1")[:1] == ["UNIT_GRACE"]
    # Unhealthy since it came up: healed once, for a failed start.
    assert "STARTUP_TIMEOUT" in reasons(report, "group-a/scaled-1")


def test_heal_and_scale_within_a_second_are_one_operation(tmp_path):
    report = simulate("scale_and_heal_merged", tmp_path)
    assert report.heals() == [{"stack": "stack-a", "units": ["group-a/u-0"],
                               "state": "SUCCESS",
                               "scale": "group-a 3->4"}]
    assert "SCALE_SUCCEEDED" in reasons(report)
    assert "EXECUTION_SUCCEEDED" in reasons(report, "group-a/u-0")


def test_scale_in_removes_the_unhealthy_unit_instead_of_healing_it(
        tmp_path):
    report = simulate("scale_in_unhealthy", tmp_path)
    assert report.heals() == [{"stack": "stack-a", "units": ["group-a/u-2"],
                               "state": "SUCCESS",
                               "scale": "group-a 3->2",
                               "removes": ["group-a/u-2"]}]
    assert "REMOVED_BY_SCALE_IN" in reasons(report, "group-a/u-2")
    assert "EXECUTION_SUCCEEDED" not in reasons(report, "group-a/u-2")
    assert "AT_MIN" in reasons(report)


def test_load_votes_of_two_units_scale_out_once(tmp_path):
    report = simulate("scale_votes", tmp_path)
    assert report.heals() == [{"stack": "stack-a", "units": [],
                               "state": "SUCCESS",
                               "scale": "group-a 2->3"}]
    assert reasons(report).count("SCALE_MERGED") == 1
    assert "AT_MAX" in reasons(report)


def test_shadow_mode_records_the_heal_and_live_heals_it(tmp_path):
    report = simulate("shadow_mode", tmp_path)
    # Stack b heals at once; stack a only after shadow mode went off.
    assert sorted(h["units"] for h in report.heals()) == [
        ["group-a/u-0"], ["group-b/u-0"]]
    assert reasons(report, "group-a/u-0")[:3] == [
        "FIRST_HEAL", "SHADOW", "FIRST_HEAL"]
    assert "SHADOW" not in reasons(report, "group-b/u-0")
    started = {tuple(e["units"]): e["t"] for e in report.canonical()
               if e["kind"] == "execution" and e["change"] == "start"}
    assert started[("group-b/u-0",)] < 10 <= 40 <= started[("group-a/u-0",)]


def test_a_stack_tagged_exclude_is_never_healed(tmp_path):
    report = simulate("excluded_stack", tmp_path)
    assert [h["units"] for h in report.heals()] == [["group-b/u-0"]]
    assert reasons(report, "group-a/u-0") == ["EXCLUDED"]


def test_a_heal_waits_for_the_end_of_a_maintenance_window(tmp_path):
    report = simulate("maintenance_window", tmp_path)
    assert [h["units"] for h in report.heals()] == [["group-a/u-0"]]
    assert reasons(report, "group-a/u-0")[:2] == [
        "FIRST_HEAL", "MAINTENANCE_WINDOW"]
    (start,) = [e["t"] for e in report.canonical()
                if e["kind"] == "execution" and e["change"] == "start"]
    assert 60 <= start <= 62


def test_replacements_that_never_start_are_replaced_once_not_looped(
        tmp_path):
    report = simulate("startup_timeout", tmp_path)
    assert [h["units"] for h in report.heals()] == [["group-a/u-0"]] * 2
    got = reasons(report, "group-a/u-0")
    assert got.count("STARTUP_TIMEOUT") == 3     # wait, heal once, hold
    assert got[-1] == "STARTUP_TIMEOUT"


def test_the_ladder_reboots_first_and_escalates_what_a_reboot_misses(
        tmp_path):
    report = simulate("escalation_ladder", tmp_path)
    # One reboot of both sick units; only the broken one is replaced.
    assert [h["units"] for h in report.heals()] == [
        ["group-a/u-0", "group-a/u-1"], ["group-a/u-1"]]
    starts = [e["change"] for e in report.canonical()
              if e["kind"] == "execution" and e["change"].startswith(
                  "start")]
    assert starts == ["start reboot", "start"]
    assert reasons(report, "group-a/u-0") == [
        "FIRST_HEAL", "BATCH_DISPATCHED", "VERIFYING", "ALARM_CLEARED",
        "REMEDIATED"]
    assert reasons(report, "group-a/u-1")[:5] == [
        "FIRST_HEAL", "BATCH_DISPATCHED", "ESCALATED", "ESCALATED",
        "BATCH_DISPATCHED"]
    assert "EXECUTION_SUCCEEDED" in reasons(report, "group-a/u-1")
    assert reasons(report, "group-a/u-2") == []


def test_a_stateful_group_is_fenced_and_never_healed_without_quorum(
        tmp_path):
    report = simulate("stateful_units", tmp_path)
    assert sorted(h["units"] for h in report.heals()) == [
        ["group-db/m-0"], ["group-web/u-0"]]
    starts = {tuple(e["units"]): e["change"] for e in report.canonical()
              if e["kind"] == "execution"
              and e["change"].startswith("start")}
    assert starts[("group-db/m-0",)] == "start (fencing first)"
    assert starts[("group-web/u-0",)] == "start"
    for member in ("group-db/m-1", "group-db/m-2"):
        assert "QUORUM_GUARD" in reasons(report, member)
        assert "BATCH_DISPATCHED" not in reasons(report, member)


def test_an_abandoning_hook_holds_the_heal_for_a_cooldown(tmp_path):
    report = simulate("pre_replace_hook", tmp_path)
    assert [(h["units"], h["state"]) for h in report.heals()] == [
        (["group-a/u-0"], "ERROR"), (["group-a/u-0"], "SUCCESS")]
    got = reasons(report, "group-a/u-0")
    assert got[:4] == ["FIRST_HEAL", "BATCH_DISPATCHED", "HOOK_ABANDONED",
                       "FIRST_HEAL"]
    assert "CIRCUIT_OPEN" not in got and got.count("EXECUTION_SUCCEEDED") \
        == 1


def test_a_unit_out_of_remediation_budget_is_held_not_looped(tmp_path):
    report = simulate("remediation_budget", tmp_path)
    starts = [e["change"] for e in report.canonical()
              if e["kind"] == "execution" and e["change"].startswith(
                  "start")]
    assert starts == ["start reboot", "start", "start reboot"]
    got = reasons(report, "group-a/u-0")
    assert got[-1] == "REMEDIATION_BUDGET"
    assert got.count("EXECUTION_SUCCEEDED") == 1
