"""What `/healthz` reports: whether the ledger answers and the ticker runs.

A receiver that accepts requests while its ledger is down or its ticker
is stuck heals nothing; a 503 lets a load balancer or an operator's probe
see that, and the body names what is wrong.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

__all__ = ["Health", "ledger_problem", "tick_problem"]

# An exception's text can be a whole SQL statement or a stack of causes.
_MAX_DETAIL = 300


@dataclasses.dataclass(frozen=True)
class Health:
    """Problems found by a health check; none means healthy."""

    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_problem(ledger: Any) -> Optional[str]:
    """None if the ledger answers a trivial query, else what failed."""
    import sqlalchemy as sa

    try:
        with ledger.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        return f"ledger unreachable: {detail[:_MAX_DETAIL]}"
    return None


def tick_problem(last_good_tick: Optional[float], started: float,
                 now: float, limit: float) -> Optional[str]:
    """None if a tick without errors ended within `limit` seconds (or the
    ticker started less than `limit` ago), else how stale it is."""
    if last_good_tick is None:
        age = now - started
        if age <= limit:
            return None
        return (f"no good tick in the {age:.0f} s since start "
                f"(limit {limit:.0f} s)")
    age = now - last_good_tick
    if age <= limit:
        return None
    return f"last good tick {age:.0f} s ago (limit {limit:.0f} s)"
