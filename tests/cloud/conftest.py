"""The `cloud` suite: real Keystone, Nova, Heat, Mistral and RabbitMQ,
installed and started by tools/devcloud (the first run installs them)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import time

import pytest

from vitrage_selfheal import paths

DEVCLOUD = paths.CHECKOUT / "tools" / "devcloud"
STATE = paths.CHECKOUT / "var" / "devcloud"
START_TIMEOUT = 1800     # a cold install: pip, apt rabbitmq, migrations
TRANSPORT_URL = "rabbit://guest:guest@127.0.0.1:25674/"


def pytest_collection_modifyitems(config, items):
    here = pathlib.Path(__file__).parent
    for item in items:
        if here in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cloud)


@pytest.fixture(scope="session")
def devcloud():
    """clouds.yaml of a running devcloud; stopped at the end if started
    here."""
    if os.environ.get("SELFHEAL_SKIP_CLOUD") == "1":
        pytest.skip("SELFHEAL_SKIP_CLOUD=1")
    running = subprocess.run([str(DEVCLOUD), "status"],
                             capture_output=True, timeout=120).returncode == 0
    if not running:
        started = time.monotonic()
        done = subprocess.run([str(DEVCLOUD), "start"], capture_output=True,
                              text=True, timeout=START_TIMEOUT)
        if done.returncode != 0:
            pytest.fail("tools/devcloud start failed:\n"
                        + done.stdout[-4000:] + done.stderr[-4000:])
        print(f"devcloud started in {time.monotonic() - started:.0f}s")
    clouds = STATE / "clouds.yaml"
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    yield clouds
    if not running:
        subprocess.run([str(DEVCLOUD), "stop"], capture_output=True,
                       timeout=300)


@pytest.fixture(scope="session")
def conn(devcloud):
    import openstack
    return openstack.connect(cloud="devcloud")


@pytest.fixture(scope="session")
def mistral(conn):
    from vitrage_selfheal.dispatch.mistral import (
        MistralDispatcher,
        install_workflows,
    )
    endpoint = conn.session.get_endpoint(service_type="workflowv2",
                                         interface="public")
    install_workflows(conn.session, endpoint)
    return MistralDispatcher(conn.session, endpoint,
                             workflow_input={"poll_delay": 1,
                                             "conflict_delay": 2})
