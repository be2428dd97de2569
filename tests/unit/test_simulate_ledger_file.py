"""A ledger kept by `simulate --ledger` carries the simulated clock."""

from __future__ import annotations

from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.simulate import ledger_file


def test_the_simulated_now_is_kept_and_read_back(tmp_path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path}/sim.db")
    ledger.upgrade()
    try:
        with ledger.transaction() as tx:
            assert ledger_file.simulated_now(tx.counters()) is None
        ledger_file.record_now(ledger, 1_767_225_700.0)
        ledger_file.record_now(ledger, 1_767_225_760.0)   # the last wins
        with ledger.transaction() as tx:
            assert ledger_file.simulated_now(tx.counters()) == \
                1_767_225_760.0
    finally:
        ledger.dispose()
