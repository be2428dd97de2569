"""Fault 2: the plugin SIGKILLed between the ledger's write and the POST to
Mistral, restarted, SIGKILLed again right after the POST, restarted.

The replica (tests/faults/replica.py) is `vitrage-selfheal serve`'s App
and webhook in a process of its own, on a SQLite ledger that survives
the kills; it kills itself at the named point of its execution start.
"""

from __future__ import annotations

from tests.faults import notify
from tests.faults.drive import wait_for
from tests.faults.observe import (
    all_healed,
    check_once,
    executions,
    operations,
    replaced,
)
from tests.faults.processes import Replica, write_conf
from vitrage_selfheal.ledger.store import AttemptOutcome, Ledger
from vitrage_selfheal.model import BatchState


def test_killed_before_and_after_the_post_heals_once(cluster, mistral,
                                                     tmp_path, row):
    """Fault 2: the plugin SIGKILLed around the POST to Mistral."""
    ledger_url = f"sqlite:///{tmp_path}/ledger.db"
    conf = write_conf(tmp_path / "selfheal.conf", ledger_url,
                      f"file://{tmp_path}/locks", "replica-1")
    log = tmp_path / "replica.log"
    before = cluster.members()
    victim = sorted(before)[0]
    unit = cluster.unit(victim)
    ledger = Ledger(ledger_url)
    running: list[Replica] = []
    try:
        first = Replica(conf, log, die_at="before-dispatch")
        running.append(first)
        first.wait_listening()
        answer = first.post(notify.body(unit))
        assert answer.status_code == 202, answer.text
        died_before = first.wait_killed()
        (op,) = operations(ledger, cluster.id)
        # The attempt is committed, Mistral has never heard of it.
        assert op.state == BatchState.INTENDED, op
        assert [a[2] for a in op.attempts] == [AttemptOutcome.STARTED]
        assert executions(mistral, cluster.id) == []

        second = Replica(conf, log, die_at="after-dispatch")
        running.append(second)
        second.wait_listening()
        died_after = second.wait_killed()
        (op,) = operations(ledger, cluster.id)
        # Mistral runs it; the ledger never learnt that it started.
        assert op.state == BatchState.INTENDED, op
        found = executions(mistral, cluster.id)
        assert [e.id for e in found] == sorted(op.execution_ids), found

        third = Replica(conf, log)
        running.append(third)
        third.wait_listening()
        wait_for("the unit healed", lambda: all_healed(ledger, [unit.key]),
                 timeout=300, every=1)
    finally:
        for replica in running:
            replica.stop()

    verdict = check_once(ledger, mistral, [cluster.id], healed=[unit.key])
    assert verdict.per_operation() == [1]
    wrong = replaced(before, cluster.members(), [victim])
    assert not wrong, wrong
    assert died_before.startswith("before POST")
    assert died_after.startswith("after POST")
    row.happened = (
        "killed with the attempt committed (Mistral: nothing); restarted: "
        "same attempt, same id, killed after the POST (Mistral: RUNNING, "
        "ledger: not started); restarted: the POST got that execution back; "
        "healed once")
    row.executions = verdict.summary()
