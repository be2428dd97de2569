"""The shipped Mistral workflows pass Mistral 23's own DSL parser.

`mistral==23.0.0` is a test requirement (it co-installs with vitrage 15.0.1
under the 2025.2 constraints). The parser runs in a child interpreter:
importing Mistral registers dozens of options on oslo.config's global CONF,
which the in-process Vitrage engine tests also use.

The parser accepts some documents that Mistral then runs wrongly, so a few
checks of our own follow it (each names the trap it guards against).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from vitrage_selfheal import workflows

MISTRAL_VERSION = "23.0.0"

# The function behind POST /v2/workflows/validate (and /v2/workflows).
VALIDATE = r"""
import json, sys
from importlib.metadata import version
from mistral.lang import parser

report = {"mistral": version("mistral"), "documents": {}}
for name, text in json.load(sys.stdin).items():
    try:
        specs = parser.get_workflow_list_spec_from_yaml(text, validate=True)
        report["documents"][name] = {
            "valid": True,
            "workflows": [w.get_name() for w in specs.get_workflows()]}
    except Exception as exc:
        report["documents"][name] = {
            "valid": False, "error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(report))
"""

ENGINE_COMMANDS = {"fail", "succeed", "pause", "noop"}


def mistral_validate(documents: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", VALIDATE], input=json.dumps(documents),
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (
        "Mistral's parser did not run; install the test requirements "
        "(mistral==23.0.0 is in test-requirements.txt):\n"
        + done.stderr[-3000:])
    report = json.loads(done.stdout)
    assert report["mistral"] == MISTRAL_VERSION, report["mistral"]
    return report["documents"]


# Small on purpose: the parser takes seconds per workflow (jsonschema
# checks Mistral's own schemas again for every task).
BROKEN = """---
version: '2.0'
broken:
  tasks:
    one:
      action: std.noop
      on-success:
        - update_rot
"""


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict]:
    documents = {n: workflows.load(n) for n in workflows.names()}
    documents["<broken>"] = BROKEN
    return mistral_validate(documents)


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def test_names_and_load():
    assert "heal_units" in workflows.names()
    assert "selfheal.heal_units:" in workflows.load("heal_units")
    with pytest.raises(KeyError):
        workflows.load("../setup")


def test_every_shipped_workflow_is_valid_for_mistral(parsed):
    shipped = {n: r for n, r in parsed.items() if n != "<broken>"}
    assert shipped, "no workflow definitions shipped"
    errors = {n: r["error"] for n, r in shipped.items() if not r["valid"]}
    assert not errors, errors


def test_heal_workflow_has_the_dispatched_name(parsed):
    assert parsed["heal_units"]["workflows"] == [workflows.HEAL_WORKFLOW]


def test_the_parser_rejects_a_broken_document(parsed):
    # Proves the check above is not vacuous.
    result = parsed["<broken>"]
    assert not result["valid"]
    assert "update_rot" in result["error"]


@pytest.mark.parametrize("name", workflows.names())
def test_expressions_are_one_line(name):
    # Mistral finds `<% %>` with a regex that does not cross newlines: a
    # multi-line expression passes the parser and is then used as a
    # literal string.
    doc = yaml.safe_load(workflows.load(name))
    bad = [s for s in _strings(doc) if "<%" in s and (
        "\n" in s or s.count("<%") != s.count("%>"))]
    assert not bad, bad


@pytest.mark.parametrize("name", workflows.names())
def test_no_task_is_named_like_an_engine_command(name):
    # A transition to a task named `succeed` runs the engine command
    # instead: the workflow ends SUCCESS without running the task.
    doc = yaml.safe_load(workflows.load(name))
    for wf_name, wf in doc.items():
        if wf_name == "version":
            continue
        clash = ENGINE_COMMANDS & set(wf["tasks"])
        assert not clash, f"{wf_name}: {sorted(clash)}"


def test_heal_workflow_contract():
    doc = yaml.safe_load(workflows.load("heal_units"))
    wf = doc[workflows.HEAL_WORKFLOW]
    inputs = {i if isinstance(i, str) else next(iter(i))
              for i in wf["input"]}
    # What MistralDispatcher sends, and the tunables it may send.
    assert {"root_stack_id", "units", "reason", "poll_delay", "max_polls",
            "conflict_delay", "conflict_retries"} <= inputs
    required = [i for i in wf["input"] if isinstance(i, str)]
    assert sorted(required) == ["root_stack_id", "units"]
    assert set(wf["output"]) == {"result"}
    assert set(wf["output-on-error"]) == {"failure"}
    tasks = wf["tasks"]
    # The unit is marked in its owning stack, the update is on the root.
    mark = tasks["mark_unhealthy"]
    assert mark["action"] == "heat.resources_mark_unhealthy"
    assert mark["input"]["stack_id"] == "<% $.unit.stack_id %>"
    assert mark["input"]["mark_unhealthy"] is True
    assert re.search(r"stack_id=<% \$\.root_stack_id %> existing=true",
                     tasks["update_root"]["action"])
    # Waits are bounded by retry counts, never by a task timeout alone.
    for name in ("wait_root_idle", "mark_unhealthy", "update_root",
                 "wait_update"):
        assert "count" in tasks[name]["retry"], name


def test_scale_workflow_takes_what_the_dispatcher_sends():
    from vitrage_selfheal.dispatch.mistral import scale_input
    from vitrage_selfheal.model import GroupRef, ScaleMethod, ScalePlan

    doc = yaml.safe_load(workflows.load("scale"))
    wf = doc[workflows.SCALE_WORKFLOW]
    inputs = {i if isinstance(i, str) else next(iter(i))
              for i in wf["input"]}
    plan = ScalePlan(group=GroupRef("root", "nested", "root", "asg"),
                     method=ScaleMethod.CAPACITY, size_before=3, target=4,
                     capacity_parameter="n")
    sent = {"root_stack_id", "units", "reason", *scale_input(plan)}
    assert sent <= inputs
    required = {i for i in wf["input"] if isinstance(i, str)}
    assert required <= sent
    assert set(wf["output"]) == {"result"}
    tasks = wf["tasks"]
    # Waits are bounded by retry counts, never by a task timeout alone.
    for name in ("wait_root_idle", "mark_unhealthy", "update_capacity",
                 "wait_update", "signal_policy", "wait_members"):
        assert "count" in tasks[name]["retry"], name
    # The capacity is changed by a PATCH of the root stack.
    update = tasks["update_capacity"]
    assert update["action"] == "heat.stacks_update"
    assert update["input"]["existing"] is True
