"""Running the plugin against the local cloud while a fault is injected:
a Healer on a real Mistral and Heat with its ticker, heal requests as
Vitrage's notifier hands them over, and one devcloud unit stopped and
started."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

from tests.cloudfixtures import DEVCLOUD
from vitrage_selfheal.clients import HeatStatus
from vitrage_selfheal.clock import SystemClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.democloud.run import wait_for
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import Decision, HealRequest, Unit

ALARM = "selfheal.heal: server lost"
SERVICE_TIMEOUT = 300

__all__ = ["ALARM", "Periodic", "Ticker", "healer", "request", "service",
           "stopped", "wait_for"]


def healer(tmp_path: Path, dispatcher: Any, conn: Any, policy: Policy,
           ledger_url: Optional[str] = None, workers: int = 4,
           observer: Optional[Callable[[Decision], None]] = None) -> Healer:
    """The product's Healer on a real Mistral and Heat, its own ledger."""
    ledger = Ledger(ledger_url or f"sqlite:///{tmp_path}/ledger.db")
    ledger.upgrade()
    return Healer(ledger, Locks(f"file://{tmp_path}/locks", "faults"),
                  dispatcher, HeatStatus(conn), policy, SystemClock(),
                  replica="faults", observer=observer, counters=Counters(),
                  workers=workers, follow_interval=1.0)


class Periodic:
    """`step()` every `interval` seconds in a daemon thread, while the
    `with` block runs."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=type(self).__name__)

    def step(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.step()

    def __enter__(self) -> Periodic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


class Ticker(Periodic):
    """The healer's ticker, as App runs it."""

    def __init__(self, target: Healer, interval: float = 0.5) -> None:
        super().__init__(interval)
        self.healer = target

    def step(self) -> None:
        self.healer.tick()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.healer.stop()


def request(unit: Unit, active: bool = True,
            alarm: str = ALARM) -> HealRequest:
    """What the notifier plugin makes of Vitrage's deduced alarm."""
    return HealRequest(unit=unit, alarm_key=f"{alarm}@{unit.vertex_id}",
                       alarm_name=alarm, active=active,
                       source="vitrage.notifier", event_time=time.time())


def service(action: str, unit: str) -> float:
    """tools/devcloud stop-service|start-service UNIT; seconds it took."""
    started = time.monotonic()
    done = subprocess.run([str(DEVCLOUD), f"{action}-service", unit],
                          capture_output=True, text=True,
                          timeout=SERVICE_TIMEOUT)
    assert done.returncode == 0, \
        f"devcloud {action}-service {unit}: {done.stderr[-3000:]}"
    return time.monotonic() - started


@contextlib.contextmanager
def stopped(unit: str) -> Iterator[dict[str, float]]:
    """UNIT stopped inside the block, started again after it, whatever
    happened; the dict gets the stop and start times (monotonic)."""
    times = {"stop_seconds": service("stop", unit),
             "stopped_at": time.monotonic()}
    try:
        yield times
    finally:
        times["start_seconds"] = service("start", unit)
        times["started_at"] = time.monotonic()
