"""How long one notification's decision takes, ledger write included.

Measured: `Healer.submit` (admission and the ledger write, in one
transaction under the stack's lock) for every notification of a storm:
N units in S stacks, each unit's alarm raised once, ~10 % of them sent
again (DUPLICATE), ~20 % of the units with a second alarm, ~5 % cleared
again. Baseline, in the same process and on the same kind of database:
a bare insert of one decision row per notification, one transaction each.
The clock is a FakeClock moved a few ms per notification; the ticker runs
between notifications (not timed), so batches form and units go in
flight as they would. A short warm-up on other stacks comes first: a
long-running healer has its statements compiled and its connections open.

    python bench/decide_latency.py [--units 1000] [--stacks 50]
        [--backend sqlite|postgres|both] [--pg] [--pg-url URL] [--json]

PostgreSQL: `--pg-url`, or the throw-away server of tools/pg (started
here if it is not running, and stopped again); each run gets fresh
databases, dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import pathlib
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Optional

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from vitrage_selfheal.clock import FakeClock  # noqa: E402
from vitrage_selfheal.decide.policy import Policy  # noqa: E402
from vitrage_selfheal.dispatch.base import ExecState, Execution  # noqa: E402
from vitrage_selfheal.healer import Healer  # noqa: E402
from vitrage_selfheal.ledger.locks import Locks  # noqa: E402
from vitrage_selfheal.ledger.store import Ledger  # noqa: E402
from vitrage_selfheal.model import (  # noqa: E402
    Action,
    Decision,
    HealRequest,
    Reason,
    Unit,
)

# The targets (p99 of one decision, in ms).
TARGET_P99_MS = {"sqlite": 2.0, "postgres": 5.0}
SERVER_LOST = "selfheal.heal: server lost"
APP_DOWN = "selfheal.heal: application down"
TICK_EVERY = 0.5  # fake seconds between two ticker passes
WARMUP = 60


class _Executor:
    """Mistral that accepts every start and never finishes."""

    def start(self, execution_id, root, units, reason):
        return Execution(execution_id, ExecState.RUNNING)

    def get(self, execution_id):
        return Execution(execution_id, ExecState.RUNNING)

    def cancel(self, execution_id, reason):
        return Execution(execution_id, ExecState.ERROR)


@dataclasses.dataclass(frozen=True)
class Notification:
    request: HealRequest
    # Fake seconds the clock moves before this one arrives.
    gap: float


def _unit(rng: random.Random, root: str, group: str, index: int,
          size: int) -> Unit:
    return Unit(root, group, f"unit-{index}",
                physical_id=str(uuid.UUID(int=rng.getrandbits(128))),
                group=group, group_size=size)


def _request(unit: Unit, name: str, at: float,
             active: bool = True) -> HealRequest:
    # The alarm key as ingest/parse.py builds it: name and unit.
    return HealRequest(unit, f"{name}@{unit.vertex_id}", name,
                       active=active, event_time=at)


def storm(units: int, stacks: int, start: float, seed: int = 0,
          prefix: str = "") -> list[Notification]:
    """The notifications of a storm on `units` units, in arrival order."""
    rng = random.Random(seed)
    size = max(1, units // stacks)
    # Vitrage's times spread over the storm, about 3 ms per notification.
    span = units * 1.35 * 0.003
    timed: list[tuple[float, HealRequest]] = []
    for i in range(units):
        stack = i % stacks
        # Heat's ids are uuids; these are fixed per stack and group.
        root = f"{prefix}{uuid.UUID(int=stack + 1)}"
        group = f"{prefix}{uuid.UUID(int=(1 << 64) + stack)}"
        unit = _unit(rng, root, group, i // stacks, size)
        at = rng.uniform(0, span)
        first = _request(unit, SERVER_LOST, start + at)
        timed.append((at, first))
        if rng.random() < 0.10:
            # A re-send: the same event, a little later.
            timed.append((at + rng.uniform(0.01, 0.5), first))
        second = None
        if rng.random() < 0.20:
            late = at + rng.uniform(0.05, 1.0)
            second = _request(unit, APP_DOWN, start + late)
            timed.append((late, second))
        if rng.random() < 0.05:
            cleared = second or first
            when = (cleared.event_time - start) + rng.uniform(0.2, 1.5)
            timed.append((when, dataclasses.replace(
                cleared, active=False, event_time=start + when)))
    timed.sort(key=lambda pair: pair[0])
    return [Notification(req, rng.uniform(0.001, 0.005))
            for _, req in timed]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles: p99 is a sample that was measured."""
    ordered = sorted(samples_ms)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {"p50_ms": round(rank(50), 3), "p90_ms": round(rank(90), 3),
            "p99_ms": round(rank(99), 3), "max_ms": round(ordered[-1], 3)}


def _healer(url: str, workdir: pathlib.Path, clock: FakeClock) -> Healer:
    ledger = Ledger(url)
    ledger.upgrade()
    return Healer(ledger, Locks(f"file://{workdir}/locks", "bench"),
                  _Executor(), lambda _s: "UPDATE_COMPLETE", Policy(), clock)


def decide(url: str, workdir: pathlib.Path, notes: list[Notification],
           warmup: list[Notification]) -> tuple[list[float], Counter]:
    """Per-notification submit latency (ms) and the reasons decided."""
    clock = FakeClock()
    healer = _healer(url, workdir, clock)
    reasons: Counter = Counter()
    samples: list[float] = []
    ticked = clock.now()
    try:
        for n, note in enumerate(warmup + notes):
            now = clock.advance(note.gap)
            if now - ticked >= TICK_EVERY:
                healer.tick()
                ticked = now
            began = time.perf_counter_ns()
            decisions = healer.submit(note.request)
            took = (time.perf_counter_ns() - began) / 1e6
            if n >= len(warmup):
                samples.append(took)
                reasons.update(d.reason.value for d in decisions)
    finally:
        healer.stop()
        healer.locks.stop()
        healer.ledger.dispose()
    return samples, reasons


def baseline(url: str, notes: list[Notification],
             warmup: list[Notification]) -> list[float]:
    """Per-notification latency (ms) of one bare decision insert."""
    ledger = Ledger(url)
    ledger.upgrade()
    samples: list[float] = []
    try:
        for n, note in enumerate(warmup + notes):
            unit = note.request.unit
            began = time.perf_counter_ns()
            with ledger.transaction() as tx:
                tx.record(Decision(Action.ACCEPT, Reason.FIRST_HEAL,
                                   unit_key=unit.key,
                                   root_stack_id=unit.root_stack_id),
                          0.0, "bench")
            took = (time.perf_counter_ns() - began) / 1e6
            if n >= len(warmup):
                samples.append(took)
    finally:
        ledger.dispose()
    return samples


def measure(backend: str, urls: tuple[str, str], workdir: pathlib.Path,
            notes: list[Notification],
            warmup: list[Notification]) -> dict:
    samples, reasons = decide(urls[0], workdir, notes, warmup)
    base = baseline(urls[1], notes, warmup)
    result = percentiles(samples)
    result["baseline"] = percentiles(base)
    result["ratio_p99"] = round(result["p99_ms"]
                                / result["baseline"]["p99_ms"], 2)
    result["target_p99_ms"] = TARGET_P99_MS[backend]
    result["target_met"] = result["p99_ms"] < TARGET_P99_MS[backend]
    result["reasons"] = dict(sorted(reasons.items()))
    return result


# -- PostgreSQL ---------------------------------------------------------------
def _pg_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "tools" / "pg"), *args], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=600)


@contextlib.contextmanager
def pg_server(url: Optional[str]) -> Iterator[str]:
    """A server URL: the given one, or tools/pg's (stopped again if it was
    started here)."""
    if url:
        yield url
        return
    started = _pg_tool("status").returncode != 0
    res = _pg_tool("start")
    if res.returncode != 0:
        raise SystemExit(f"tools/pg start failed:\n{res.stderr}")
    try:
        yield _pg_tool("url").stdout.strip()
    finally:
        if started:
            _pg_tool("stop")


@contextlib.contextmanager
def pg_databases(server_url: str, count: int) -> Iterator[list[str]]:
    """`count` fresh, empty databases on the server, dropped afterwards."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    base = sa.engine.make_url(server_url)
    names = [f"selfheal_bench_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield [base.set(database=name).render_as_string(hide_password=False)
               for name in names]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(args: argparse.Namespace) -> dict:
    start = FakeClock().now()
    notes = storm(args.units, args.stacks, start, args.seed)
    warmup = storm(args.warmup, max(1, args.warmup // 20), start,
                   args.seed + 1, prefix="warm-") if args.warmup else []
    result: dict = {"units": args.units, "stacks": args.stacks,
                    "notifications": len(notes), "warmup": len(warmup)}
    backends = ["sqlite", "postgres"] if args.backend == "both" \
        else [args.backend]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for backend in backends:
            workdir = pathlib.Path(tmp) / backend
            workdir.mkdir()
            if backend == "sqlite":
                urls = (f"sqlite:///{workdir}/ledger.db",
                        f"sqlite:///{workdir}/baseline.db")
                result[backend] = measure(backend, urls, workdir, notes,
                                          warmup)
                continue
            with pg_server(args.pg_url) as server, \
                    pg_databases(server, 2) as pg_urls:
                result[backend] = measure(backend, tuple(pg_urls), workdir,
                                          notes, warmup)
    return result


def _print(result: dict) -> None:
    print(f"{result['notifications']} notifications on {result['units']} "
          f"units of {result['stacks']} stacks (+{result['warmup']} warm-up)")
    for backend in ("sqlite", "postgres"):
        r = result.get(backend)
        if r is None:
            continue
        b = r["baseline"]
        print(f"{backend:8} submit   p50 {r['p50_ms']:.3f} p90 "
              f"{r['p90_ms']:.3f} p99 {r['p99_ms']:.3f} max "
              f"{r['max_ms']:.3f} ms  (target p99 < "
              f"{r['target_p99_ms']:g} ms: "
              f"{'met' if r['target_met'] else 'MISSED'})")
        print(f"{backend:8} baseline p50 {b['p50_ms']:.3f} p90 "
              f"{b['p90_ms']:.3f} p99 {b['p99_ms']:.3f} max "
              f"{b['max_ms']:.3f} ms  ratio p99 {r['ratio_p99']}x")
        print(f"{'':8} reasons  " + ", ".join(
            f"{k} {v}" for k, v in r["reasons"].items()))


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--stacks", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"),
                        default="sqlite")
    parser.add_argument("--pg", action="store_const", dest="backend",
                        const="postgres", help="same as --backend postgres")
    parser.add_argument("--pg-url", help="a PostgreSQL server to create "
                        "the bench's databases on (default: tools/pg)")
    parser.add_argument("--warmup", type=int, default=WARMUP,
                        help="units of the uncounted warm-up storm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="where the SQLite files go")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a p99 target is missed")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    missed = [b for b in ("sqlite", "postgres")
              if b in result and not result[b]["target_met"]]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
