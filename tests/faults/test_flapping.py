"""Fault 6: one unit's alarm flapping at 1 Hz for 60 s (active half a
second, clear half a second), on the plugin's default policy with a real
Mistral and Heat behind it.

The first 30 s flap from the first activation: every clear comes within
the 2 s coalescing window and takes the queued heal back (the unit
recovered by itself). Then the unit stays sick long enough to be healed,
and flaps on for the rest of the minute while it is healed and cooling
down.
"""

from __future__ import annotations

import collections
import time

from tests.faults import drive
from tests.faults.observe import (
    RunningWatch,
    check_once,
    decisions,
    executions,
    heal_counts,
    replaced,
)
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.model import Reason

FLAP = 60.0
PERIOD = 1.0
SETTLE_FIRST = 30.0     # flapping from the first activation
SICK = 4.0              # then active long enough to be healed


def flap(healer, unit, until: float) -> int:
    """Activate, clear half a period later, ... until `until`; returns the
    activations sent. Ends on a clear."""
    sent = 0
    while time.monotonic() + PERIOD <= until:
        start = time.monotonic()
        healer.submit(drive.request(unit, active=True))
        sent += 1
        time.sleep(max(0.0, start + PERIOD / 2 - time.monotonic()))
        healer.submit(drive.request(unit, active=False))
        time.sleep(max(0.0, start + PERIOD - time.monotonic()))
    return sent


def test_flapping_alarm_heals_once_then_cooldown_holds(cluster, mistral,
                                                       conn, tmp_path,
                                                       row):
    """Fault 6: an alarm flapping at 1 Hz for 60 s."""
    before = cluster.members()
    victim = sorted(before)[0]
    unit = cluster.unit(victim)
    healer = drive.healer(tmp_path, mistral, conn, Policy())
    ledger = healer.ledger
    with RunningWatch(mistral) as watch, drive.Ticker(healer):
        began = time.monotonic()
        first = flap(healer, unit, began + SETTLE_FIRST)
        assert executions(mistral, cluster.id) == []
        quiet = collections.Counter(d.reason for d in decisions(ledger))
        healer.submit(drive.request(unit, active=True))
        time.sleep(SICK)
        healer.submit(drive.request(unit, active=False))
        second = flap(healer, unit, began + FLAP)
        window = time.monotonic() - began
        drive.wait_for("the heal's end", lambda: heal_counts(
            ledger, [unit.key])[unit.key], timeout=300, every=1)

    verdict = check_once(ledger, mistral, [cluster.id], healed=[unit.key],
                         watch=watch)
    assert verdict.per_operation() == [1]
    wrong = replaced(before, cluster.members(), [victim])
    assert not wrong, wrong
    found = collections.Counter(d.reason for d in decisions(ledger))
    assert quiet[Reason.BATCH_DISPATCHED.value] == 0, quiet
    assert found[Reason.BATCH_DISPATCHED.value] == 1, found
    assert found[Reason.COOLDOWN.value] >= 1, found
    later = found - quiet
    row.happened = (
        f"{first + second + 1} activations in {window:.0f}s; first "
        f"{SETTLE_FIRST:.0f}s: each queued heal withdrawn by its clear "
        f"(coalescing window 2 s), no execution; sick {SICK:.0f}s: healed "
        f"once; then {later[Reason.ALREADY_HEALING.value]} "
        f"ALREADY_HEALING, {later[Reason.COOLDOWN.value]} COOLDOWN")
    row.executions = verdict.summary()
