"""What `pip install .` gives an operator: the command and the data files."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import zipfile

from vitrage_selfheal import paths


def test_wheel_ships_templates_workflows_values_and_migrations(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "-q", "-w", str(tmp_path),
         str(paths.CHECKOUT)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel, = pathlib.Path(tmp_path).glob("vitrage_selfheal-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("templates/host_down.yaml", "scenarios/demo.yaml",
                   "vitrage_selfheal/workflows/heal_units.yaml",
                   "vitrage_selfheal/metrics/alerts.yaml",
                   "datasources_values/heat.unit.yaml",
                   "datasources_values/nova.instance.yaml",
                   "migrations/versions/0001_initial_ledger.py",
                   "migrations/env.py"):
        assert any(n.endswith(needed) for n in names), needed


def test_console_script_lists_the_commands():
    done = subprocess.run(
        [sys.executable, "-m", "vitrage_selfheal.cli.main", "--help"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("history", "status", "hold", "release", "serve",
                    "engine", "workflows", "validate", "simulate", "demo"):
        assert command in done.stdout
