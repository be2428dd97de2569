"""The shipped Prometheus alert rules, checked and unit-tested by promtool
(Debian's prometheus package; tools/promtool installs it when missing)."""

from __future__ import annotations

import pathlib
import subprocess

import yaml

from vitrage_selfheal import paths

RULES = paths.CHECKOUT / "vitrage_selfheal" / "metrics" / "alerts.yaml"
TESTS = paths.CHECKOUT / "tests" / "resources" / "prometheus" / \
    "alerts_test.yaml"
PROMTOOL = str(paths.CHECKOUT / "tools" / "promtool")


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True,
                          timeout=600)


def test_rules_are_valid_and_fire_when_they_should():
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout
    tested = promtool("test", "rules", str(TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_rule_tests_catch_a_changed_rule(tmp_path: pathlib.Path):
    # Each rule with a shorter `for:` or threshold must fail its test:
    # the tests pin the timing, not only that the rules load.
    doc = yaml.safe_load(RULES.read_text())
    tests = yaml.safe_load(TESTS.read_text())
    rules = doc["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "SelfhealStormGuardActive", "SelfhealOperationTooOld",
        "SelfhealBreakerOpen", "SelfhealLedgerDown"}
    for n, rule in enumerate(rules):
        changed = yaml.safe_load(RULES.read_text())
        target = changed["groups"][0]["rules"][n]
        if "for" in target:
            target["for"] = "1m"
        else:
            target["for"] = "10m"
        (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(changed))
        tests["rule_files"] = ["alerts.yaml"]
        (tmp_path / "test.yaml").write_text(yaml.safe_dump(tests))
        tested = promtool("test", "rules", str(tmp_path / "test.yaml"))
        assert tested.returncode != 0, rule["alert"]
        assert rule["alert"] in tested.stdout + tested.stderr
