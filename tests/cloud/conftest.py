"""The `cloud` suite: real Keystone, Nova, Heat, Mistral and RabbitMQ,
installed and started by tools/devcloud (the first run installs them).

The fixtures `devcloud`, `conn` and `mistral` are shared with the other
suites that need the cloud: tests/cloudfixtures.py.  `vitrage_services`
(stock Vitrage services, tools/devcloud-vitrage) is for the tests that
look at the full Vitrage deployment: tests/cloud/test_full_vitrage.py and
tests/cloud/test_horizon.py.
"""

from __future__ import annotations

import pathlib
import subprocess
from collections.abc import Iterator

import pytest

from vitrage_selfheal import paths

VITRAGE_SERVICES = paths.CHECKOUT / "tools" / "devcloud-vitrage"
VITRAGE_INSTALL_TIMEOUT = 900     # the first run creates the Vitrage venv
VITRAGE_START_TIMEOUT = 240


def _uses_vitrage_services(item: pytest.Item) -> bool:
    return "vitrage_services" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config, items):
    here = pathlib.Path(__file__).parent
    for item in items:
        if here in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cloud)
    # The tests on the stock Vitrage services run last, one after the
    # other: the services start once for all of them (session scope), and
    # no other test runs while they are up (vitrage-graph consumes the
    # notification queues the embedded engines of the other suites read,
    # and its notifier heals the units of any admin stack).
    stock = [item for item in items if _uses_vitrage_services(item)]
    if stock:
        items[:] = [item for item in items
                    if not _uses_vitrage_services(item)] + stock


@pytest.fixture(scope="session")
def vitrage_services(devcloud: pathlib.Path) -> Iterator[None]:
    """vitrage-persistor, vitrage-graph, vitrage-notifier and vitrage-api
    (tools/devcloud-vitrage) up; stopped after the last test using them."""
    done = subprocess.run([str(VITRAGE_SERVICES), "install"],
                          capture_output=True, text=True,
                          timeout=VITRAGE_INSTALL_TIMEOUT)
    assert done.returncode == 0, done.stderr[-4000:]
    done = subprocess.run([str(VITRAGE_SERVICES), "start"],
                          capture_output=True, text=True,
                          timeout=VITRAGE_START_TIMEOUT)
    try:
        assert done.returncode == 0, ("tools/devcloud-vitrage start failed:\n"
                                      + done.stderr[-4000:])
        yield
    finally:
        subprocess.run([str(VITRAGE_SERVICES), "stop"], capture_output=True,
                       timeout=120)
        status = subprocess.run([str(VITRAGE_SERVICES), "status"],
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 3, status.stdout
