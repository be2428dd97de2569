"""Fault 3: two plugin replicas (two processes) on one PostgreSQL ledger,
tooz locks on the devcloud's Redis, both fed the same notifications at
the same moment: each replica gets its own signed copy, as from two
senders."""

from __future__ import annotations

import collections
import threading
import time

import pytest
import redis

from tests.faults import notify, stacks
from tests.faults.drive import wait_for
from tests.faults.observe import (
    RunningWatch,
    all_healed,
    check_once,
    decisions,
    replaced,
)
from tests.faults.processes import Replica, write_conf
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import Reason

REDIS = "redis://127.0.0.1:26379"


@pytest.fixture
def clusters(conn, quotas):
    found = stacks.clusters(conn, 2, 3)
    yield found
    stacks.delete(found)


def post_to_all(replicas: list[Replica], data: bytes) -> list[int]:
    """The same notification to every replica at once."""
    now = time.time()
    codes = [0] * len(replicas)
    barrier = threading.Barrier(len(replicas))

    def send(i: int) -> None:
        barrier.wait()
        # One second apart: two senders, two signatures.
        codes[i] = replicas[i].post(data, ts=now - i).status_code
    threads = [threading.Thread(target=send, args=(i,))
               for i in range(len(replicas))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return codes


def test_two_replicas_start_one_execution_per_stack(clusters, mistral,
                                                    pg_ledger_url,
                                                    tmp_path, row):
    """Fault 3: two replicas: PostgreSQL ledger, Redis locks."""
    before = {c.id: c.members() for c in clusters}
    # Two sick units in the first stack, one in the second.
    victims = {clusters[0].id: sorted(before[clusters[0].id])[:2],
               clusters[1].id: sorted(before[clusters[1].id])[:1]}
    units = [c.unit(name) for c in clusters for name in victims[c.id]]
    replicas = []
    try:
        started = [Replica(write_conf(tmp_path / f"r{i}.conf",
                                      pg_ledger_url, REDIS, f"replica-{i}"),
                           tmp_path / f"r{i}.log") for i in (1, 2)]
        replicas += started
        for replica in replicas:
            replica.wait_listening()
        ledger = Ledger(pg_ledger_url)
        # Both hold a tooz session on the real Redis (their heartbeats).
        beats = {k.decode() for k in redis.Redis(
            host="127.0.0.1", port=26379).keys("_tooz_beats:*")}
        assert beats >= {"_tooz_beats:replica-1", "_tooz_beats:replica-2"}
        with RunningWatch(mistral) as watch:
            codes = [post_to_all(replicas, notify.body(u)) for u in units]
            assert all(c == 202 for found in codes for c in found), codes
            wait_for("every unit healed", lambda: all_healed(
                ledger, [u.key for u in units]), timeout=300, every=1)
    finally:
        for replica in replicas:
            replica.stop()

    verdict = check_once(ledger, mistral, [c.id for c in clusters],
                         healed=[u.key for u in units], watch=watch)
    assert verdict.per_operation() == [1, 1]
    for cluster in clusters:
        wrong = replaced(before[cluster.id], cluster.members(),
                         victims[cluster.id])
        assert not wrong, wrong
    made = collections.defaultdict(collections.Counter)
    for d in decisions(ledger):
        made[d.replica][d.reason] += 1
    # Both replicas took part: each admitted the notifications it got.
    assert set(made) >= {"replica-1", "replica-2"}, dict(made)
    starts = {d.replica for d in decisions(ledger)
              if d.reason == Reason.BATCH_DISPATCHED.value}
    total = sum(made.values(), collections.Counter())
    row.happened = (
        f"{len(units)} alarms on 2 stacks, each posted to both replicas at "
        f"once: {total[Reason.FIRST_HEAL.value]} FIRST_HEAL, "
        f"{total[Reason.DUPLICATE.value]} DUPLICATE (either replica); "
        f"executions started by {' and '.join(sorted(starts))}; every unit "
        f"healed once")
    row.executions = verdict.summary()
