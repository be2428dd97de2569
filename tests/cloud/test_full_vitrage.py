"""The scale-out path: stock vitrage-graph, vitrage-notifier and vitrage-api
(tools/devcloud-vitrage) with the plugin loaded by configuration only, healing
a unit of a real Heat cluster (tools/devcloud.d/full_vitrage_demo.py)."""

from __future__ import annotations

import subprocess

import pytest

from vitrage_selfheal import paths

TOOLS = paths.CHECKOUT / "tools"
SERVICES = TOOLS / "devcloud-vitrage"
DEMO = TOOLS / "devcloud.d" / "full_vitrage_demo.py"
VENV = paths.CHECKOUT / "var" / "devcloud" / "vitrage-venv"
PYTHON = VENV / "bin" / "python"
INSTALL_TIMEOUT = 900     # the first run creates the Vitrage venv
START_TIMEOUT = 240
DEMO_TIMEOUT = 420


@pytest.fixture
def vitrage_services(devcloud):
    done = subprocess.run([str(SERVICES), "install"], capture_output=True,
                          text=True, timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, done.stderr[-4000:]
    done = subprocess.run([str(SERVICES), "start"], capture_output=True,
                          text=True, timeout=START_TIMEOUT)
    try:
        assert done.returncode == 0, ("tools/devcloud-vitrage start failed:\n"
                                      + done.stderr[-4000:])
        yield
    finally:
        subprocess.run([str(SERVICES), "stop"], capture_output=True,
                       timeout=120)
        status = subprocess.run([str(SERVICES), "status"],
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 3, status.stdout


def test_stock_vitrage_heals_one_unit_once(vitrage_services):
    done = subprocess.run([str(PYTHON), str(DEMO), "--faults", "2"],
                          capture_output=True, text=True,
                          timeout=DEMO_TIMEOUT)
    print(done.stdout[-6000:])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-4000:]
    assert "all checks held" in done.stdout
