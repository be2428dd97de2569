"""The ledger a simulation keeps (`simulate --ledger PATH`).

Its rows are stamped by the simulated clock, so `status` must judge them
by that clock too, not by today's: the run's last simulated instant is
kept in the ledger's counters table (whole seconds; the runner steps by
one), which every schema revision has.
"""

from __future__ import annotations

from typing import Any, Optional

SIMULATED_NOW = "simulate.now"


def record_now(ledger: Any, now: float) -> None:
    with ledger.transaction() as tx:
        previous = tx.counters().get(SIMULATED_NOW, 0)
        tx.count(SIMULATED_NOW, int(now) - previous)


def simulated_now(counters: dict[str, int]) -> Optional[float]:
    """The simulated clock of a kept ledger; None for a real one."""
    value = counters.get(SIMULATED_NOW)
    return float(value) if value else None
