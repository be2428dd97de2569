"""Heal state in Horizon: Horizon with vitrage-dashboard
(tools/devcloud-horizon) on the stock Vitrage services
(tools/devcloud-vitrage), looked at in headless Chromium after a real
fault.

The cluster and the fault are tools/devcloud.d/full_vitrage_demo.py's (a
3-unit AutoScalingGroup, one unit's server deleted out of band), with the
stack held first (`vitrage-selfheal hold --stack`): the plugin decides
HELD_BY_OPERATOR and heals nothing, so the deduced alarm and the unit's
heal_state HELD:HELD_BY_OPERATOR stay while the browser looks.
tools/devcloud.d/horizon_browser.py, run by the Horizon venv's python (where
selenium is), logs in, opens the topology, the entity graph, the alarms and
the alarm's RCA view, saves var/test-artefacts/horizon-*.png and reports
what the pages hold; the assertions are here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from vitrage_selfheal import paths

TOOLS = paths.CHECKOUT / "tools"
HORIZON = TOOLS / "devcloud-horizon"
BROWSER = TOOLS / "devcloud.d" / "horizon_browser.py"
DEMO = TOOLS / "devcloud.d" / "full_vitrage_demo.py"
HORIZON_PYTHON = paths.CHECKOUT / "var" / "devcloud" / "horizon-venv" / \
    "bin" / "python"
ARTEFACTS = paths.CHECKOUT / "var" / "test-artefacts"
CHROMEDRIVER = Path("/usr/bin/chromedriver")
URL = "http://127.0.0.1:" + os.environ.get("DEVCLOUD_PORT_HORIZON", "28080")
INSTALL_TIMEOUT = 900     # a cold install: pip (~40 s), apt chromium
BROWSER_TIMEOUT = 300
HELD = "HELD:HELD_BY_OPERATOR"
ALARM = "selfheal.heal: server lost"


def horizon(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(HORIZON), *args], capture_output=True,
                          text=True, timeout=timeout)


def selfheal(demo: ModuleType, *args: str) -> None:
    """The operator's command, on the ledger of the Vitrage notifiers."""
    done = subprocess.run([sys.executable, "-m", "vitrage_selfheal.cli.main",
                           "--config-file", str(demo.SELFHEAL_CONF), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def horizon_url(devcloud: Path) -> Iterator[str]:
    """Horizon up (tools/devcloud-horizon start); stopped after the module
    if it was not running before."""
    running = horizon("status").returncode == 0
    # install also brings Debian's chromium and chromium-driver (as root).
    done = horizon("install", timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, done.stderr[-4000:]
    if not (shutil.which("chromium") and CHROMEDRIVER.exists()):
        pytest.skip("no chromium / /usr/bin/chromedriver and not root to "
                    "apt-get install chromium chromium-driver")
    done = horizon("start", timeout=INSTALL_TIMEOUT)
    try:
        assert done.returncode == 0, ("tools/devcloud-horizon start failed:"
                                      "\n" + done.stderr[-4000:])
        yield URL
    finally:
        if not running:
            horizon("stop")


def full_vitrage_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("full_vitrage_demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def held_fault(vitrage_services: None) -> Iterator[SimpleNamespace]:
    """A unit of a held stack whose server is gone: its deduced alarm in
    the Vitrage API and heal_state HELD:HELD_BY_OPERATOR on its vertex."""
    demo = full_vitrage_demo()
    run = demo.FullVitrageDemo(argparse.Namespace(faults=1, timeout=150,
                                                  keep=False))
    run.setup()
    run.create_cluster()
    stack = run.stack_id
    try:
        selfheal(demo, "hold", "--stack", stack, "--reason",
                 "tests/cloud/test_horizon.py looks at it")
        victim, *others = sorted(run.units)
        injected = run.delete_servers("held, for Horizon", victim)
        alarm = run.wait_alarm(victim, injected)
        assert not alarm.get("missed"), "the alarm cleared: was it healed?"

        def held() -> dict:
            run.graph_units()
            vertex = run.vertices.get(victim, {})
            return vertex if vertex.get("heal_state") == HELD else {}

        vertex = demo.wait_for(f"heal_state {HELD} on {victim}", held,
                               timeout=60, every=1)
        demo.say(f"unit {vertex['name']}: {vertex['heal_state']}, "
                 f"alarm {alarm['name']!r} {alarm['vitrage_id']}")
        yield SimpleNamespace(
            demo=run, victim=victim, vertex=vertex, alarm=alarm,
            others={k: run.vertices[k] for k in others},
            lost=run.units[victim],
            kept=[s for k in others for s in run.units[k]])
    finally:
        run.conn.orchestration.delete_stack(stack)
        demo.wait_for(f"{run.stack_name} deleted", lambda: (
            run.conn.orchestration.find_stack(stack) is None
            or run.stack_status() == "DELETE_COMPLETE"), timeout=120,
            every=1)
        selfheal(demo, "release", "--stack", stack)


def test_horizon_shows_the_unit_its_heal_state_and_the_deduced_alarm(
        horizon_url, held_fault):
    unit, alarm = held_fault.vertex, held_fault.alarm
    started = time.monotonic()
    done = subprocess.run(
        [str(HORIZON_PYTHON), str(BROWSER), "--url", horizon_url,
         "--out", str(ARTEFACTS), "--unit", unit["name"],
         "--alarm", alarm["name"]],
        capture_output=True, text=True, timeout=BROWSER_TIMEOUT)
    print(f"browser: {time.monotonic() - started:.1f}s")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report = json.loads(done.stdout)
    pages = report["pages"]
    for name, page in pages.items():
        print(f"{name}: {page.get('url')} {page.get('load_s')}s "
              f"{page.get('screenshot', '')}")
    assert report["errors"] == [], report["errors"]
    assert "/auth/login" not in pages["login"]["after"], pages["login"]
    for name in ("topology", "entities", "alarms"):
        page = pages[name]
        assert Path(page["screenshot"]).stat().st_size > 10_000, name
        assert page["toasts"] == [], (name, page["toasts"])
        assert page["js_errors"] == [], (name, page["js_errors"])
        # The header's alarm counters (Vitrage's alarm count API).
        critical = re.search(r"CRITICAL\s+(\d+)", page["banner"])
        assert critical and int(critical.group(1)) >= 1, page["banner"]

    # The entity graph: the unit, its heal_state, the alarm on it.
    entities = pages["entities"]
    nodes = {n["vitrage_id"]: n for n in entities["nodes"]}
    shown = nodes.get(unit["vitrage_id"])
    assert shown, [n["name"] for n in entities["nodes"]]
    assert shown["vitrage_type"] == "heat.unit"
    assert shown["name"] == unit["name"]
    assert shown["heal_state"] == HELD
    assert shown["state"] == "SERVER_MISSING"
    assert shown["vitrage_operational_state"] == "ERROR"
    assert "red" in shown["icon_class"].split()
    for other in held_fault.others.values():
        assert nodes[other["vitrage_id"]]["heal_state"] == "", other["name"]
    on_unit = nodes.get(alarm["vitrage_id"])
    assert on_unit and on_unit["name"] == ALARM, sorted(nodes)
    assert on_unit["vitrage_category"] == "ALARM"
    assert [alarm["vitrage_id"], unit["vitrage_id"], "on"] in \
        entities["links"], entities["links"]
    # Its info panel, once clicked.
    assert entities["selected"] == unit["name"]
    assert f"Heal state:\n{HELD}" in entities["info"], entities["info"]
    assert "State:\nSERVER_MISSING" in entities["info"], entities["info"]
    assert "Vitrage type:\nheat.unit" in entities["info"], entities["info"]

    # The topology (compute sunburst): host and the servers that are left.
    arcs = {a["id"]: a for a in pages["topology"]["arcs"]}
    assert {a["vitrage_type"] for a in arcs.values()} >= {
        "openstack.cluster", "nova.zone", "nova.host", "nova.instance"}
    assert set(held_fault.kept) <= set(arcs), sorted(arcs)
    assert not set(held_fault.lost) & set(arcs)

    # The alarms table: the deduced alarm, on the unit's vertex.
    rows = pages["alarms"]["rows"]
    assert any(ALARM in row and "heat.unit" in row
               and unit["vitrage_id"] in row for row in rows), rows

    # The RCA view: the page got the alarm's RCA (the modal holds its
    # label).  Its layout does not run: vitrage-dashboard's dagre 0.6
    # with Horizon's lodash 4 throws in initOrder (dagrejs/dagre#221), so
    # the graph stays unplaced; the screenshot shows the empty modal.
    rca = pages["rca"]
    assert ALARM in rca["nodes"] and unit["vitrage_id"] in rca["nodes"], rca
