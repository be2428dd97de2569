"""The `faults` suite: real services stopped, killed, raced and flapped
while heals are due; every test checks "nothing lost, nothing duplicated"
in the ledger and in Mistral's executions. The local cloud is the one
tests/cloudfixtures.py starts (once per run, shared with tests/cloud).

At the end of a run that executed any of these tests, the reliability
table (README.rst, "Reliability") is printed and written to
var/faults/reliability.json.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cloud.helpers import Cluster
from tests.cloudfixtures import devcloud_start, devcloud_status
from tests.faults.report import REPORT, REPORT_ROWS, Row

HERE = pathlib.Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.faults_call_report = report


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not REPORT_ROWS.rows:
        return
    REPORT_ROWS.rows.sort(key=lambda r: r.fault)
    terminalreporter.section("reliability (tests/faults)")
    REPORT_ROWS.print(terminalreporter)
    REPORT_ROWS.write()
    terminalreporter.write_line(f"written to {REPORT}")


@pytest.fixture(scope="session")
def quotas(conn: Any) -> Iterator[None]:
    """Room for storms and their replacements (devcloud's default is 10
    instances); the project's quotas are put back at the end."""
    project = conn.current_project_id
    before = conn.get_compute_quotas(project)
    conn.set_compute_quotas(project, instances=200, cores=400,
                            ram=200 * 1024)
    yield
    conn.set_compute_quotas(project, instances=before.instances,
                            cores=before.cores, ram=before.ram)


@pytest.fixture
def cluster(conn: Any, quotas: None) -> Iterator[Cluster]:
    """A real 3-unit cluster of this test's own, deleted after it."""
    found = Cluster(conn, 3)
    yield found
    found.delete()


@pytest.fixture
def row(request: pytest.FixtureRequest) -> Iterator[Row]:
    """This fault's row in the table, titled by the test's docstring."""
    doc = (request.function.__doc__ or request.node.name).strip()
    title = " ".join(doc.split("\n\n")[0].split())
    entry = REPORT_ROWS.row(title.rstrip("."))
    started = time.monotonic()
    yield entry
    entry.seconds = time.monotonic() - started
    report = getattr(request.node, "faults_call_report", None)
    if report is not None and hasattr(report, "wasxfail"):
        entry.outcome = f"xfail: {report.wasxfail}"
        entry.happened = entry.happened or entry.outcome
    elif report is None or report.skipped:
        entry.outcome = "skipped"
    elif report.failed:
        message = str(report.longrepr).strip().splitlines()[-1]
        entry.outcome = "FAILED"
        entry.happened = f"FAILED: {message[:200]}"
    else:
        entry.outcome = "passed"


@pytest.fixture(autouse=True)
def cloud_made_whole(request: pytest.FixtureRequest) -> Iterator[None]:
    """A fault that failed half-way may have left a unit stopped: the next
    test must find the whole cloud running again."""
    yield
    if "devcloud" in request.fixturenames and devcloud_status() != 0:
        devcloud_start()
