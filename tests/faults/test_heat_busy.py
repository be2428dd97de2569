"""Fault 4: Heat busy for 30 s with a real stack update (a test resource
whose update takes 30 s) when a heal is due: Heat answers 409 to calls on
the stack meanwhile."""

from __future__ import annotations

import time

import pytest

from tests.cloud.helpers import Cluster
from tests.faults import drive, stacks
from tests.faults.observe import (
    RunningWatch,
    all_healed,
    check_once,
    decisions,
    replaced,
)
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.model import Reason


@pytest.fixture
def cluster(conn, quotas):
    found = Cluster(conn, 3, template=stacks.cluster_template(slow=True))
    yield found
    found.delete()


def probe(conn, cluster: Cluster) -> int:
    """Heat's answer to a harmless call that needs the stack's lock."""
    return conn.orchestration.patch(
        f"/stacks/{cluster.name}/{cluster.id}/resources/slow",
        json={"mark_unhealthy": False,
              "resource_status_reason": "faults probe"}).status_code


def test_heal_waits_for_a_busy_stack_then_heals_once(cluster, mistral,
                                                     conn, tmp_path, row):
    """Fault 4: Heat busy (409) for 30 s when a heal is due."""
    before = cluster.members()
    victim = sorted(before)[0]
    unit = cluster.unit(victim)
    healer = drive.healer(tmp_path, mistral, conn, Policy())
    answer = conn.orchestration.patch(
        f"/stacks/{cluster.name}/{cluster.id}",
        json={"parameters": {"slow_value": "b"}})
    assert answer.status_code == 202, answer.text
    busy_at = time.monotonic()
    drive.wait_for("the slow resource updating", lambda: any(
        r.name == "slow" and r.status == "UPDATE_IN_PROGRESS"
        for r in conn.orchestration.resources(cluster.id)),
        timeout=30, every=0.2)
    assert probe(conn, cluster) == 409
    with RunningWatch(mistral) as watch, drive.Ticker(healer):
        healer.submit(drive.request(unit))
        drive.wait_for("the long update over", lambda: cluster.status() !=
                       "UPDATE_IN_PROGRESS", timeout=120, every=0.5)
        idle_at = time.time()
        busy = time.monotonic() - busy_at
        drive.wait_for("the unit healed", lambda: all_healed(
            healer.ledger, [unit.key]), timeout=300, every=1)

    verdict = check_once(healer.ledger, mistral, [cluster.id],
                         healed=[unit.key], watch=watch)
    assert verdict.per_operation() == [1]
    wrong = replaced(before, cluster.members(), [victim])
    assert not wrong, wrong
    rows = decisions(healer.ledger, cluster.id)
    waited = [d for d in rows if d.reason == Reason.STACK_IN_PROGRESS.value]
    assert waited, [d.reason for d in rows]
    (started,) = [d for d in rows
                  if d.reason == Reason.BATCH_DISPATCHED.value]
    # Mistral heard of the heal only once Heat was done (a tick's slack).
    assert started.at >= idle_at - 1.0, (started.at, idle_at)
    row.happened = (
        f"root stack UPDATE_IN_PROGRESS {busy:.0f}s (Heat: 409 already has "
        f"an action); the heal waited (STACK_IN_PROGRESS), started "
        f"{max(0.0, started.at - idle_at):.1f}s after the update ended, "
        f"healed once")
    row.executions = verdict.summary()
