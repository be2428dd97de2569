"""Process-local counters of the things that go wrong without a ledger row.

The ledger counts decisions; these count what cannot be written there:
refused webhook requests (a row each would let anyone fill the ledger),
datasource read failures inside Vitrage's process, requests dropped while
the ledger is down. `/healthz` no longer shows them (it answers anyone
who reaches the port); an authenticated path for them is still to come.

Components take a `Counters` in their constructor; `default()` is the one
shared by a process's components when none is given, so that what the
datasource counts inside an embedded engine lands in the same registry.
"""

from __future__ import annotations

import threading

__all__ = ["Counters", "default"]


class Counters:
    """Named integer counters; thread-safe."""

    def __init__(self) -> None:
        self._values: dict[str, int] = {}
        self._lock = threading.Lock()

    def inc(self, name: str, by: int = 1) -> int:
        """Add `by` to `name` (created at 0); the new value."""
        with self._lock:
            value = self._values.get(name, 0) + by
            self._values[name] = value
            return value

    def get(self, name: str) -> int:
        with self._lock:
            return self._values.get(name, 0)

    def snapshot(self) -> dict[str, int]:
        """A copy, sorted by name."""
        with self._lock:
            return dict(sorted(self._values.items()))


_DEFAULT = Counters()


def default() -> Counters:
    """The process-wide registry."""
    return _DEFAULT
