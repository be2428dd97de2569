"""Fault 1: Mistral's API stopped for 60 s in the middle of a heal storm.

The engine (unit mistral-engine) keeps running what it has; the plugin can
neither start nor read executions until the API is back. Storm shape:
SELFHEAL_FAULTS_STORM=STACKSxUNITS (default 3x4; the issue's 50-unit
storm is 5x10).
"""

from __future__ import annotations

import os
import time

import pytest

from tests.faults import drive, stacks
from tests.faults.observe import (
    RunningWatch,
    all_healed,
    check_once,
    reasons,
    replaced,
)
from vitrage_selfheal.decide.policy import Policy, Threshold
from vitrage_selfheal.model import Reason

OUTAGE = 60.0
STORM = os.environ.get("SELFHEAL_FAULTS_STORM", "3x4")


@pytest.fixture
def storm(conn, quotas):
    count, size = (int(n) for n in STORM.lower().split("x"))
    started = time.monotonic()
    found = stacks.clusters(conn, count, size)
    created = time.monotonic() - started
    yield found, created
    stacks.delete(found)


def test_mistral_api_stopped_60s_during_a_storm(storm, mistral, conn,
                                                tmp_path, row):
    """Fault 1: Mistral API down 60 s during a storm."""
    clusters, created = storm
    # A storm on purpose: every unit of every group is sick, and each
    # group is replaced by one operation.
    policy = Policy(max_unhealthy=Threshold(100, True),
                    max_in_flight=Threshold(100, True))
    healer = drive.healer(tmp_path, mistral, conn, policy,
                          workers=len(clusters))
    ledger = healer.ledger
    before = {c.id: c.members() for c in clusters}
    units = {c.id: [c.unit(name) for name in sorted(before[c.id])]
             for c in clusters}
    keys = [u.key for found in units.values() for u in found]
    early = clusters[:(len(clusters) + 1) // 2]
    late = clusters[len(early):]

    with RunningWatch(mistral) as watch, drive.Ticker(healer):
        for cluster in early:
            for unit in units[cluster.id]:
                healer.submit(drive.request(unit))
        drive.wait_for("the first stacks' executions", lambda: all(
            reasons(ledger, c.id)[Reason.BATCH_DISPATCHED.value]
            for c in early), timeout=120)
        with drive.stopped("mistral-api") as outage:
            # The storm goes on while the API is away.
            for cluster in late:
                for unit in units[cluster.id]:
                    healer.submit(drive.request(unit))
            time.sleep(max(0.0, OUTAGE - (time.monotonic()
                                          - outage["stopped_at"])))
        drive.wait_for("every unit healed", lambda: all_healed(ledger, keys),
                       timeout=900, every=1)
        healed_at = time.monotonic()

    verdict = check_once(ledger, mistral, [c.id for c in clusters],
                         healed=keys, watch=watch)
    for cluster in clusters:
        wrong = replaced(before[cluster.id], cluster.members(),
                         before[cluster.id])
        assert not wrong, f"stack {cluster.id}: {wrong}"
    found = reasons(ledger)
    assert verdict.per_operation() == [1] * len(clusters)
    if late:
        assert found[Reason.DISPATCH_FAILED.value], found
    api_down = outage["started_at"] - outage["stopped_at"]
    attempts = max(a[0] for op in verdict.operations for a in op.attempts)
    row.happened = (
        f"{len(clusters)} stacks x {clusters[0].size} units (created in "
        f"{created:.0f}s); API down {api_down:.0f}s: the executions of "
        f"{len(early)} stack(s) ran on in the engine, the starts of "
        f"{len(late)} refused ({found[Reason.DISPATCH_FAILED.value]} "
        f"DISPATCH_FAILED), "
        f"started by attempt {attempts} of 3; all {len(keys)} units healed "
        f"once, the last {healed_at - outage['started_at']:.0f}s after the "
        f"API was back")
    row.executions = verdict.summary()
