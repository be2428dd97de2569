"""Fault 7: the embedded Vitrage engine restarted in the middle of a storm.

The README's cloud demo set-up (CloudDemo: App + embedded engine on
Nova's and Heat's notifications from RabbitMQ, a 3-unit cluster): two
units' servers are deleted out of band, the engine is stopped and started
again (a fresh graph, rebuilt from snapshots and the bus) while their
heal runs, then the third unit's server is deleted.
"""

from __future__ import annotations

import time

import pytest

from tests.cloudfixtures import TRANSPORT_URL
from tests.faults.drive import wait_for
from tests.faults.observe import (
    all_healed,
    check_once,
    decisions,
    heal_counts,
    replaced,
)
from vitrage_selfheal.democloud.run import CloudDemo
from vitrage_selfheal.model import Reason

# No re-heal may come after the last heal for this long: two of the
# engine's snapshot periods (the demo's is 10 s).
QUIET = 20.0


@pytest.fixture
def demo(devcloud, mistral, quotas, tmp_path):
    found = CloudDemo(tmp_path / "demo", devcloud, TRANSPORT_URL)
    found.setup()
    try:
        yield found
    finally:
        found.service.stop()
        found.app.stop()
        stack = getattr(found, "stack_id", None)
        if stack:
            found.conn.orchestration.delete_stack(stack)


def delete_servers(demo: CloudDemo, keys: list[str]) -> None:
    for key in keys:
        for server in demo.units[key]:
            demo.conn.compute.delete_server(server)


def test_engine_restart_mid_storm_reheals_nothing(demo, mistral, row):
    """Fault 7: the embedded engine restarted mid-storm."""
    demo.create_cluster()
    ledger = demo.app.healer.ledger
    keys = sorted(demo.units)
    names = {k: demo.members[k].resource_name for k in keys}
    before = {names[k]: v for k, v in demo._physical_ids().items()}
    first, last = keys[:2], keys[2:]

    delete_servers(demo, first)
    wait_for("the first heal started", lambda: [
        d for d in decisions(ledger, demo.stack_id)
        if d.reason == Reason.BATCH_DISPATCHED.value], timeout=180)
    running = not any(heal_counts(ledger, first).values())
    restarted = time.monotonic()
    demo.service.stop()
    demo._start_engine()
    restart = time.monotonic() - restarted
    wait_for("the first units healed", lambda: all_healed(ledger, first),
             timeout=300, every=1)
    demo.units = wait_for("the units back in the new graph",
                          demo._graph_units, timeout=120)
    delete_servers(demo, last)
    wait_for("every unit healed", lambda: all_healed(ledger, keys),
             timeout=300, every=1)
    time.sleep(QUIET)

    verdict = check_once(ledger, mistral, [demo.stack_id], healed=keys)
    assert verdict.per_operation() == [1, 1]
    assert heal_counts(ledger, keys) == {k: 1 for k in keys}
    after = {names[k]: v for k, v in demo._physical_ids().items()}
    wrong = replaced(before, after, list(before))
    assert not wrong, wrong
    seen = [d.reason for d in decisions(ledger) if d.unit_key in first
            and d.reason not in (Reason.FIRST_HEAL.value,
                                 Reason.COALESCED.value,
                                 Reason.BATCH_DISPATCHED.value,
                                 Reason.EXECUTION_SUCCEEDED.value)]
    when = "while their heal ran" if running else "after their heal"
    row.happened = (
        f"2 of 3 units' servers deleted; engine restarted ({restart:.0f}s) "
        f"{when}; the 3rd unit's server deleted; each unit healed once, "
        f"nothing re-healed within {QUIET:.0f}s; other decisions on the "
        f"first units: {', '.join(sorted(set(seen))) or 'none'}")
    row.executions = verdict.summary()
