"""How much the decision layer costs per notification, as a ratio.

Baseline: persisting one decision row per notification (what any heal
logger must do at least). Measured: the full admission (dedup, flap,
storm, holds, suppression, ledger writes) for a storm of alarms on N units
across S stacks, then forming the batches. Both run in this process on the
same SQLite ledger kind; the ratio, not the seconds, is the result.

    python bench/decide_throughput.py [--units 200] [--stacks 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from vitrage_selfheal.clock import FakeClock  # noqa: E402
from vitrage_selfheal.decide.policy import Policy, Threshold  # noqa: E402
from vitrage_selfheal.dispatch.base import ExecState, Execution  # noqa: E402
from vitrage_selfheal.healer import Healer  # noqa: E402
from vitrage_selfheal.ledger.locks import Locks  # noqa: E402
from vitrage_selfheal.ledger.store import Ledger  # noqa: E402
from vitrage_selfheal.model import (  # noqa: E402  # noqa: E402
    Action,
    Decision,
    HealRequest,
    Reason,
    Unit,
)


class _Executor:
    def __init__(self) -> None:
        self.started: set[str] = set()

    def start(self, execution_id, root, units, reason):
        self.started.add(execution_id)
        return Execution(execution_id, ExecState.RUNNING)

    def get(self, execution_id):
        return Execution(execution_id, ExecState.RUNNING)

    def cancel(self, execution_id, reason):
        return Execution(execution_id, ExecState.ERROR)


def requests(units: int, stacks: int) -> list[HealRequest]:
    out = []
    for i in range(units):
        stack = f"stack-{i % stacks}"
        unit = Unit(stack, f"group-{i % stacks}", f"m{i}", group_size=units)
        out.append(HealRequest(unit, f"a@{unit.key}", "selfheal.heal: x"))
        # Every alarm arrives twice, as notifications do.
        out.append(HealRequest(unit, f"a@{unit.key}", "selfheal.heal: x"))
    return out


def baseline(workdir: pathlib.Path, reqs: list[HealRequest]) -> float:
    ledger = Ledger(f"sqlite:///{workdir}/baseline.db")
    ledger.upgrade()
    began = time.perf_counter()
    for r in reqs:
        with ledger.transaction() as tx:
            tx.record(Decision(Action.ACCEPT, Reason.FIRST_HEAL,
                               unit_key=r.unit.key), 0.0)
    return time.perf_counter() - began


def pipeline(workdir: pathlib.Path, reqs: list[HealRequest]
             ) -> tuple[float, int]:
    ledger = Ledger(f"sqlite:///{workdir}/pipeline.db")
    ledger.upgrade()
    clock = FakeClock()
    executor = _Executor()
    healer = Healer(ledger, Locks(f"file://{workdir}/locks", "bench"),
                    executor, lambda _s: "UPDATE_COMPLETE",
                    Policy(max_unhealthy=Threshold.parse("100%"),
                           max_dispatches_per_minute=10_000),
                    clock)
    began = time.perf_counter()
    for r in reqs:
        healer.submit(r)
    clock.advance(3)
    healer.tick()
    elapsed = time.perf_counter() - began
    healer.locks.stop()
    return elapsed, len(executor.started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--stacks", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reqs = requests(args.units, args.stacks)
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline(pathlib.Path(tmp), reqs)
        full, executions = pipeline(pathlib.Path(tmp), reqs)
    result = {"notifications": len(reqs), "units": args.units,
              "stacks": args.stacks, "executions": executions,
              "ratio_pipeline_to_baseline": round(full / base, 2)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{len(reqs)} notifications on {args.units} units of "
              f"{args.stacks} stacks -> {executions} executions "
              f"(one per stack)")
        print(f"decision pipeline costs {result['ratio_pipeline_to_baseline']}"
              f"x a bare decision insert per notification")
    return 0 if executions == args.stacks else 1


if __name__ == "__main__":
    sys.exit(main())
