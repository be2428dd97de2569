"""Fault 5: a heal that really fails in Mistral, three times: the unit's
resource name is not in its group's stack, so the shipped workflow ends
in ERROR (step check_units) on every attempt."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

from tests.faults import drive
from tests.faults.observe import RunningWatch, check_once, reasons
from vitrage_selfheal import paths
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.model import Reason


def status(conf, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "vitrage_selfheal.cli.main", "--config-file",
         str(conf), "status", *args], cwd=paths.CHECKOUT,
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_three_failed_heals_open_the_breaker(cluster, mistral, conn,
                                             tmp_path, row):
    """Fault 5: a heal FAILED 3 times in Mistral."""
    ghost = dataclasses.replace(cluster.unit(sorted(cluster.members())[0]),
                                resource_name="no-such-member",
                                physical_id=None)
    policy = Policy(max_attempts=3, retry_backoff=1.0, coalesce_window=0.5)
    healer = drive.healer(tmp_path, mistral, conn, policy)
    with RunningWatch(mistral) as watch, drive.Ticker(healer):
        healer.submit(drive.request(ghost))
        drive.wait_for("the breaker", lambda: reasons(
            healer.ledger, cluster.id)[Reason.CIRCUIT_OPEN.value],
            timeout=300, every=1)

    verdict = check_once(healer.ledger, mistral, [cluster.id], watch=watch)
    (op,) = verdict.operations
    found = verdict.executions[cluster.id]
    assert [e.state for e in found] == ["ERROR"] * 3, found
    assert sorted(e.id for e in found) == sorted(op.execution_ids)
    assert [a[2] for a in op.attempts] == ["FAILED"] * 3, op.attempts
    # Held: a new alarm on the unit is refused by the open breaker.
    again = healer.submit(drive.request(ghost, alarm="selfheal.heal: again"))
    assert [d.reason for d in again] == [Reason.CIRCUIT_OPEN]

    conf = tmp_path / "cli.conf"
    conf.write_text(f"[selfheal]\nledger_url = {healer.ledger.url}\n")
    text = status(conf)
    assert "Holds and circuit breakers: 1" in text, text
    assert "breaker" in text and "failed 3 times" in text, text
    assert "CIRCUIT_OPEN" in text, text
    (hold,) = json.loads(status(conf, "--json"))["holds"]
    why = hold["reason"]
    assert "step=check_units" in why and "units missing" in why, why
    # The operator's plain table says it whole too.
    assert why in text, text
    row.happened = ("3 executions ERROR (step check_units: no such "
                    "member), retried after 1 s and 2 s; breaker open; "
                    "status says: 'heal ... failed 3 times, last: "
                    "step=check_units, ..., message=units missing from "
                    "their owning stacks...'; a new alarm: CIRCUIT_OPEN")
    row.executions = verdict.summary()
