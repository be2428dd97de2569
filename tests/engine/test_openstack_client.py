"""`openstack selfheal ...` as an operator types it: the venv's real
`openstack` executable (python-openstackclient) finds the plugin by its
entry points and answers from a real ledger, kept by a simulated run
through the real engine; its records equal `vitrage-selfheal`'s."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from vitrage_selfheal import paths

pytestmark = pytest.mark.engine
pytest.importorskip("vitrage")

BIN = pathlib.Path(sys.executable).parent
SCENARIO = str(paths.CHECKOUT / "scenarios" / "server_deleted.yaml")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    tool = BIN / args[0]
    assert tool.exists(), f"{tool}: not in the project's venv"
    # No OS_* of the caller's shell: the commands must not need a cloud.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    return subprocess.run([str(tool), *args[1:]], capture_output=True,
                          text=True, timeout=300, cwd=paths.CHECKOUT,
                          env=dict(clean, **(env or {})))


@pytest.fixture(scope="module")
def kept(tmp_path_factory) -> tuple[pathlib.Path, dict]:
    """A ledger kept by `openstack selfheal simulate --ledger`, its
    config file and the run's summary."""
    where = tmp_path_factory.mktemp("osc")
    ledger = where / "sim.db"
    done = run("openstack", "selfheal", "simulate", SCENARIO,
               "--ledger", str(ledger), "-f", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    conf = where / "selfheal.conf"
    conf.write_text(f"[selfheal]\nledger_url = sqlite:///{ledger}\n")
    return conf, json.loads(done.stdout)


def test_simulate_reports_its_run_and_expectations(kept):
    _, summary = kept
    assert summary["expectations_failed"] == []
    met, _, total = summary["expectations_met"].split()
    assert met == total and int(total) > 1
    assert [e["units"] for e in summary["executions"]] == [["group-a/a-0"]]
    assert summary["decisions"]["FIRST_HEAL"] >= 1
    assert summary["engine_errors"] == 0


def test_history_json_is_the_ledger_as_vitrage_selfheal_shows_it(kept):
    conf, summary = kept
    done = run("openstack", "--os-selfheal-config-file", str(conf),
               "selfheal", "history", "-f", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout)
    ours = run("vitrage-selfheal", "--config-file", str(conf), "history",
               "--json")
    assert ours.returncode == 0, ours.stderr[-3000:]
    assert rows == json.loads(ours.stdout)
    # Every decision of the run is there, with its named reason.
    seen: dict[str, int] = {}
    for row in rows:
        seen[row["reason"]] = seen.get(row["reason"], 0) + 1
    assert seen == summary["decisions"]
    assert all(isinstance(r["at"], float) for r in rows)


def test_filters_columns_and_formats(kept):
    conf, _ = kept
    env = {"OS_SELFHEAL_CONFIG_FILE": str(conf)}
    done = run("openstack", "selfheal", "history", "--reason", "FIRST_HEAL",
               "-f", "value", "-c", "reason", "-c", "unit", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[0] == "FIRST_HEAL group-a/a-0"
    table = run("openstack", "selfheal", "history", "--limit", "1", env=env)
    assert table.returncode == 0, table.stderr[-3000:]
    # A person reads UTC text: the simulated clock starts on 2026-01-01.
    assert "| 2026-01-01 " in table.stdout
    yaml = run("openstack", "selfheal", "status", "-f", "yaml", env=env)
    assert yaml.returncode == 0, yaml.stderr[-3000:]
    assert "cooldown:" in yaml.stdout and "group-a/a-0" in yaml.stdout


def test_status_equals_vitrage_selfheal_status(kept):
    conf, _ = kept
    done = run("openstack", "--os-selfheal-config-file", str(conf),
               "selfheal", "status", "-f", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    ours = run("vitrage-selfheal", "--config-file", str(conf), "status",
               "--json")
    theirs = json.loads(done.stdout)
    expected = json.loads(ours.stdout)
    problems = theirs.pop("problems")
    assert theirs == expected
    assert set(problems) <= set(expected["counters"])


def test_hold_and_release_are_decisions_in_history(kept, tmp_path):
    conf, _ = kept
    copy = tmp_path / "copy.db"
    shutil.copy(str(conf.read_text().split("sqlite:///")[1].strip()), copy)
    mine = tmp_path / "copy.conf"
    mine.write_text(f"[selfheal]\nledger_url = sqlite:///{copy}\n")
    cli = ("openstack", "--os-selfheal-config-file", str(mine), "selfheal")
    held = run(*cli, "hold", "--stack", "stack-a", "--reason", "CHG-42",
               "-f", "json")
    assert held.returncode == 0, held.stderr[-3000:]
    assert json.loads(held.stdout)["reason"] == "CHG-42"
    status = json.loads(run(*cli, "status", "-f", "json").stdout)
    assert [(h["scope"], h["reason"]) for h in status["holds"]] == [
        ("stack:stack-a", "CHG-42")]
    released = run(*cli, "release", "--stack", "stack-a", "-f", "json")
    assert json.loads(released.stdout)["lifted"] == 1
    newest = json.loads(run(*cli, "history", "--limit", "2",
                            "-f", "json").stdout)
    assert [(r["action"], r["reason"]) for r in newest] == [
        ("hold", "HELD_BY_OPERATOR"), ("clear", "RELEASED")]
    assert json.loads(run(*cli, "status", "-f", "json").stdout)["holds"] == []


def test_validate_lists_each_template_and_fails_on_a_bad_one(tmp_path):
    good = run("openstack", "selfheal", "validate",
               str(paths.CHECKOUT / "templates"), "-f", "json")
    assert good.returncode == 0, good.stderr[-3000:]
    rows = json.loads(good.stdout)
    assert rows and all(r["valid"] for r in rows)
    bad = tmp_path / "bad.yaml"
    bad.write_text("metadata: {version: 3, name: bad, type: standard}\n"
                   "entities: {host: {type: nova.host}}\n"
                   "scenarios:\n- condition: host\n  actions:\n"
                   "  - set_state: {target: nowhere, state: ERROR}\n")
    done = run("openstack", "selfheal", "validate", str(bad), "-f", "json")
    assert done.returncode == 1
    (row,) = json.loads(done.stdout)
    assert row["valid"] is False and row["code"] == 10101
    assert "target" in row["message"] and "set_state" in row["where"]


def test_errors_name_what_is_wrong(tmp_path):
    empty = tmp_path / "empty.conf"
    empty.write_text(f"[selfheal]\nledger_url = sqlite:///{tmp_path}/n.db\n")
    done = run("openstack", "--os-selfheal-config-file", str(empty),
               "selfheal", "history")
    assert done.returncode == 1
    assert "db upgrade" in done.stderr
    broken = tmp_path / "broken.conf"
    broken.write_text("[selfheal_policy]\ncooldown = soon\n")
    done = run("openstack", "--os-selfheal-config-file", str(broken),
               "selfheal", "status")
    assert done.returncode == 1
    assert "configuration error" in done.stderr and "cooldown" in done.stderr
    done = run("openstack", "selfheal", "simulate",
               str(tmp_path / "missing.yaml"))
    assert done.returncode == 1
    assert "bad scenario" in done.stderr
