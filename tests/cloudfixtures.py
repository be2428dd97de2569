"""The local cloud for every suite that needs one (tests/cloud,
tests/faults): tools/devcloud started at most once per pytest run.

Imported by tests/conftest.py, so the session fixtures below are shared:
the cloud and the fault suites in one run use the same started cloud, and
it is stopped at the end only if this run started it.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vitrage_selfheal import paths

DEVCLOUD = paths.CHECKOUT / "tools" / "devcloud"
STATE = paths.CHECKOUT / "var" / "devcloud"
START_TIMEOUT = 1800     # a cold install: pip, apt rabbitmq, migrations
TRANSPORT_URL = "rabbit://guest:guest@127.0.0.1:25674/"
# The workflow's waits, short: the tests' stacks are small and local.
WORKFLOW_INPUT = {"poll_delay": 1, "conflict_delay": 2}


def devcloud_status() -> int:
    """tools/devcloud status's exit code: 0 when every unit is up."""
    return subprocess.run([str(DEVCLOUD), "status"], capture_output=True,
                          timeout=120).returncode


def devcloud_start() -> None:
    """Start (or complete) the devcloud; fails the test if it cannot."""
    done = subprocess.run([str(DEVCLOUD), "start"], capture_output=True,
                          text=True, timeout=START_TIMEOUT)
    if done.returncode != 0:
        pytest.fail("tools/devcloud start failed:\n"
                    + done.stdout[-4000:] + done.stderr[-4000:])


@pytest.fixture(scope="session")
def devcloud() -> Iterator[Path]:
    """clouds.yaml of a running devcloud; stopped at the end if started
    here."""
    if os.environ.get("SELFHEAL_SKIP_CLOUD") == "1":
        pytest.skip("SELFHEAL_SKIP_CLOUD=1")
    running = devcloud_status() == 0
    if not running:
        started = time.monotonic()
        devcloud_start()
        print(f"devcloud started in {time.monotonic() - started:.0f}s")
    clouds = STATE / "clouds.yaml"
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    yield clouds
    if not running:
        subprocess.run([str(DEVCLOUD), "stop"], capture_output=True,
                       timeout=300)


@pytest.fixture(scope="session")
def conn(devcloud: Path) -> Any:
    import openstack
    return openstack.connect(cloud="devcloud")


@pytest.fixture(scope="session")
def mistral(conn: Any) -> Any:
    from vitrage_selfheal.dispatch.mistral import (
        MistralDispatcher,
        install_workflows,
    )
    endpoint = conn.session.get_endpoint(service_type="workflowv2",
                                         interface="public")
    install_workflows(conn.session, endpoint)
    return MistralDispatcher(conn.session, endpoint,
                             workflow_input=WORKFLOW_INPUT)


METRICS_UNITS = ("gnocchi-api", "gnocchi-metricd", "aodh-api",
                 "aodh-evaluator", "aodh-notifier", "aodh-listener")
# The SIG's chain: Ceilometer's notification agent (which starts Gnocchi
# and Aodh with it) and Zaqar.
EVENT_ALARM_UNITS = METRICS_UNITS + ("ceilometer-notification", "zaqar")


def optional_units(starts: tuple[str, ...],
                   units: tuple[str, ...]) -> Iterator[None]:
    """Optional devcloud units up while the caller's tests run (`starts`:
    the units whose start-service brings up all of `units`); stopped
    afterwards if started here, to free their memory."""
    status = subprocess.run([str(DEVCLOUD), "status"], capture_output=True,
                            text=True, timeout=120).stdout
    up = {line.split()[0] for line in status.splitlines()
          if len(line.split()) > 1 and line.split()[1] == "up"}
    started_here = not set(units) <= up
    if started_here:
        for unit in starts:
            done = subprocess.run([str(DEVCLOUD), "start-service", unit],
                                  capture_output=True, text=True,
                                  timeout=600)
            if done.returncode != 0:
                pytest.fail(f"tools/devcloud start-service {unit} failed:\n"
                            + done.stdout[-4000:] + done.stderr[-4000:])
    yield
    if started_here:
        for unit in units:
            subprocess.run([str(DEVCLOUD), "stop-service", unit],
                           capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def metrics(devcloud: Path) -> Iterator[None]:
    """Gnocchi and Aodh (optional devcloud units) up for the module's
    tests."""
    yield from optional_units(("aodh-api",), METRICS_UNITS)


@pytest.fixture(scope="module")
def event_alarms(devcloud: Path) -> Iterator[None]:
    """Ceilometer's notification agent, Aodh and Zaqar up for the
    module's tests."""
    yield from optional_units(("ceilometer-notification", "zaqar"),
                              EVENT_ALARM_UNITS)
