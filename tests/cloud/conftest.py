"""The `cloud` suite: real Keystone, Nova, Heat, Mistral and RabbitMQ,
installed and started by tools/devcloud (the first run installs them).

The fixtures `devcloud`, `conn` and `mistral` are shared with the other
suites that need the cloud: tests/cloudfixtures.py.
"""

from __future__ import annotations

import pathlib

import pytest


def pytest_collection_modifyitems(config, items):
    here = pathlib.Path(__file__).parent
    for item in items:
        if here in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cloud)
