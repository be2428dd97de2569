"""The scale-out path: stock vitrage-graph, vitrage-notifier and vitrage-api
(tools/devcloud-vitrage) with the plugin loaded by configuration only, healing
a unit of a real Heat cluster (tools/devcloud.d/full_vitrage_demo.py)."""

from __future__ import annotations

import subprocess

from vitrage_selfheal import paths

TOOLS = paths.CHECKOUT / "tools"
DEMO = TOOLS / "devcloud.d" / "full_vitrage_demo.py"
VENV = paths.CHECKOUT / "var" / "devcloud" / "vitrage-venv"
PYTHON = VENV / "bin" / "python"
DEMO_TIMEOUT = 420


# vitrage_services: tests/cloud/conftest.py (started once for this test and
# tests/cloud/test_horizon.py).
def test_stock_vitrage_heals_one_unit_once(vitrage_services):
    done = subprocess.run([str(PYTHON), str(DEMO), "--faults", "2"],
                          capture_output=True, text=True,
                          timeout=DEMO_TIMEOUT)
    print(done.stdout[-6000:])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-4000:]
    assert "all checks held" in done.stdout
