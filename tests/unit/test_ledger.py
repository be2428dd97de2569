"""The ledger on SQLite and on a real PostgreSQL server, and replicas racing.
"""

from __future__ import annotations

import multiprocessing
import time

import pytest

from tests.unit.fakes import (
    SharedDispatcher,
    StackStatuses,
    request,
    unit,
)
from vitrage_selfheal.clock import SystemClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ledger import migrate
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.models import BatchRow
from vitrage_selfheal.ledger.store import AlreadyRecorded, Ledger


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_ledger_url")
    return request.getfixturevalue("pg_ledger_url")


def test_migrations_reach_head_and_are_idempotent(ledger_url):
    ledger = Ledger(ledger_url)
    ledger.upgrade()
    ledger.upgrade()
    assert migrate.current(ledger.engine) == migrate.head()


def test_database_refuses_a_second_open_intent_for_a_unit(ledger_url):
    ledger = Ledger(ledger_url)
    ledger.upgrade()
    u = unit("0")
    with ledger.transaction() as tx:
        tx.upsert_unit(u)
        tx.add_intent(u, "a#1", 1.0)
    with pytest.raises(AlreadyRecorded):
        with ledger.transaction() as tx:
            tx.add_intent(u, "b#1", 2.0)


def test_database_refuses_a_second_open_batch_for_a_stack(ledger_url):
    ledger = Ledger(ledger_url)
    ledger.upgrade()

    def batch(ident):
        return BatchRow(id=ident, root_stack_id="root", state="INTENDED",
                        attempt=1, execution_id=ident, units="[]",
                        created_at=1.0, output="")

    with ledger.transaction() as tx:
        tx.add_batch(batch("b1"), [])
    with pytest.raises(AlreadyRecorded):
        with ledger.transaction() as tx:
            tx.add_batch(batch("b2"), [])


def test_repeated_activation_is_refused_by_the_database(ledger_url):
    ledger = Ledger(ledger_url)
    ledger.upgrade()
    req = request(unit("0"))
    with ledger.transaction() as tx:
        tx.upsert_unit(req.unit)
        assert tx.activate_alarm(req, 1.0) == f"{req.alarm_key}#1"
        assert tx.activate_alarm(req, 2.0) is None


class _NoLocks:
    """Replicas without a lock backend: only the database keeps order."""

    class _Hold:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def hold(self, name):
        return self._Hold()

    def stop(self):
        pass


def _replica(ledger_url, lock_url, exec_db, barrier, name, results):
    ledger = Ledger(ledger_url)
    locks = Locks(lock_url, name) if lock_url else _NoLocks()
    healer = Healer(ledger, locks, SharedDispatcher(exec_db),
                    StackStatuses(), Policy(coalesce_window=0.2),
                    SystemClock(), replica=name)
    barrier.wait(timeout=30)
    decisions = healer.submit(request(unit("0")))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        decisions += healer.tick()
        time.sleep(0.05)
    results.put((name, [d.reason.value for d in decisions]))


@pytest.mark.parametrize("with_locks", [True, False],
                         ids=["tooz-locks", "database-only"])
def test_two_processes_racing_on_one_unit_dispatch_once(
        ledger_url, tmp_path, with_locks):
    Ledger(ledger_url).upgrade()
    lock_url = f"file://{tmp_path}/locks" if with_locks else None
    exec_db = str(tmp_path / "executions.db")
    SharedDispatcher(exec_db)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_replica,
                         args=(ledger_url, lock_url, exec_db, barrier,
                               f"replica-{i}", results))
             for i in range(2)]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    starts, executions = SharedDispatcher(exec_db).counts()
    assert executions == 1, outcomes
    assert starts == 1, outcomes
    firsts = [r for rs in outcomes.values() for r in rs if r == "FIRST_HEAL"]
    assert len(firsts) == 1, outcomes
