"""How long the embedded engine takes to be loaded AND evaluating, per size.

Topology per size N: N/50 root stacks (heat.stack), each one group of 50
units (heat.unit), one nova.instance per unit, N/100 nova.hosts in zone
"nova", a group's units spread over hosts (unit i on host i mod hosts).
Built with the simulator (`SimulatedCloud.load`), the project's templates
and our notifier; the sink only counts.

Per size and mode, in a fresh subprocess (so that peak RSS is per run):

- load_s: the snapshots through the engine;
- evaluator_start_s: starting the evaluator on the loaded graph, when the
  mode does that as a separate step;
- probe_s: one Doctor host-down after the load, until every unit on that
  host carries its deduced 'selfheal.heal: host down' alarm (proof that
  the evaluator runs);
- ready_s = load_s + evaluator_start_s + probe_s;
- peak RSS (VmHWM) and RSS per graph vertex (peak minus the RSS before the
  engine started, over the vertices).

Modes:

- selfheal: `SimulatedCloud.load(engine)` as the project ships it;
- stock: Vitrage's own order, the same events: every snapshot event into
  `Processor.process_event` with the evaluator disabled, then
  `ScenarioEvaluator.run_evaluator()` (what vitrage-graph does at start);
- evaluator_on (`--with-evaluator-on`): the same events with the
  evaluator running during the load (what the engine did before).

Ratios are stock / selfheal. Default sizes 1000,10000 (50000 takes long).

    python bench/scale.py [--sizes 1000,10000,50000] [--modes selfheal,stock]
                          [--with-evaluator-on] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UNITS_PER_STACK = 50
UNITS_PER_HOST = 100
EPOCH = 1_767_225_600.0
HOST_DOWN = "selfheal.heal: host down"


def build_scenario(units: int) -> Any:
    from vitrage_selfheal.simulate.scenario import (
        GroupSpec,
        InstanceSpec,
        Scenario,
        StackSpec,
        UnitSpec,
    )

    n_stacks = max(1, units // UNITS_PER_STACK)
    hosts = tuple(f"compute-{h:05d}"
                  for h in range(max(1, units // UNITS_PER_HOST)))
    instances, stacks = [], []
    for s in range(n_stacks):
        members = []
        for m in range(UNITS_PER_STACK):
            index = s * UNITS_PER_STACK + m
            server = f"server-{s:05d}-{m:02d}"
            instances.append(InstanceSpec(server, hosts[index % len(hosts)]))
            members.append(UnitSpec(f"m{m:02d}", (server,)))
        stacks.append(StackSpec(
            f"stack-{s:05d}", f"cluster-{s:05d}",
            (GroupSpec("asg", f"stack-{s:05d}-asg", tuple(members)),)))
    return Scenario(name=f"scale-{units}", hosts=hosts,
                    instances=tuple(instances), stacks=tuple(stacks),
                    switches=(), timeline=(), policy={})


class CountingSink:
    """The notifier's sink: counts what reaches it, decides nothing."""

    def __init__(self) -> None:
        self.submitted = 0
        self.rejected = 0

    def submit(self, request: Any) -> list:
        self.submitted += 1
        return []

    def reject(self, reason: Any, detail: str, source: str,
               delivery: Any = None) -> Any:
        self.rejected += 1
        return None


class Recorder:
    """Stands where the engine is to capture what `SimulatedCloud.load`
    feeds, so that the stock modes replay exactly the same snapshots."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list, str]] = []

    def snapshot(self, datasource: str, entities: Any,
                 action: Any = None) -> int:
        entities = list(entities)
        self.calls.append((datasource, entities, action))
        return len(entities)

    def pull(self, datasource: str) -> int:
        raise RuntimeError("the scale topology has no static files")


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _stock_load(engine: Any, cloud: Any, evaluator_on: bool) -> float:
    """Vitrage's processor fed one event at a time, its evaluator off (the
    stock start order) or on; the evaluator's actions fed back."""
    from vitrage.datasources.driver_base import DriverBase

    engine.evaluator.enabled = evaluator_on
    start = time.perf_counter()
    recorder = Recorder()
    cloud.load(recorder)
    for datasource, entities, action in recorder.calls:
        for event in DriverBase.make_pickleable(entities, datasource,
                                                action):
            engine.processor.process_event(event)
            engine._drain()
        engine.bus.flush()
    return time.perf_counter() - start


def _stock_start_evaluator(engine: Any) -> float:
    start = time.perf_counter()
    engine.evaluator.run_evaluator()
    engine._drain()
    engine.bus.flush()
    return time.perf_counter() - start


def _units_on(cloud: Any, host: str) -> set[str]:
    servers = {s for s, spec in cloud.instances.items()
               if spec["host"] == host}
    from vitrage_selfheal.datasources.heat.unit.properties import unit_id
    return {unit_id(cloud.unit_event(u)) for u in cloud.units.values()
            if set(u.servers) & servers}


def _probe(cloud: Any, engine: Any) -> tuple[float, int, int]:
    """One host down; seconds until each of its units has the alarm."""
    host = cloud.scenario.hosts[len(cloud.scenario.hosts) // 2]
    expected = _units_on(cloud, host)
    seen = len(engine.bus.sent)
    start = time.perf_counter()
    cloud._on_host_down(host, engine)
    elapsed = time.perf_counter() - start
    raised = set()
    for event_type, payload in engine.bus.sent[seen:]:
        if event_type == "vitrage.deduced_alarm.activate" and \
                payload.get("name") == HOST_DOWN:
            raised.add((payload.get("resource") or {}).get("id"))
    return elapsed, len(expected), len(expected & raised)


def run_child(units: int, mode: str) -> dict:
    from vitrage_selfheal import logs
    from vitrage_selfheal.clock import FakeClock
    from vitrage_selfheal.engine.config import EngineSettings
    from vitrage_selfheal.engine.embedded import EmbeddedEngine
    from vitrage_selfheal.ingest import opts as ingest_opts
    from vitrage_selfheal.simulate.cloud import SimulatedCloud

    scenario = build_scenario(units)
    with tempfile.TemporaryDirectory(prefix="selfheal-scale-") as tmp:
        work = pathlib.Path(tmp)
        cloud = SimulatedCloud(scenario, work / "static", FakeClock(EPOCH))
        sink = CountingSink()
        engine = EmbeddedEngine(
            EngineSettings(workdir=work / "engine",
                           template_paths=[str(ROOT / "templates")],
                           static_dir=str(work / "static")),
            sink=sink, ingest_conf=ingest_opts.load([]))
        with logs.quiet("vitrage.datasources.aodh.driver"):
            engine.start()
        rss_before = _rss_kb("VmRSS")
        try:
            evaluator_s = 0.0
            if mode == "selfheal":
                start = time.perf_counter()
                cloud.load(engine)
                load_s = time.perf_counter() - start
                evaluator_s = getattr(engine, "last_evaluator_start_s", 0.0)
                load_s -= evaluator_s
            else:
                load_s = _stock_load(engine, cloud,
                                     evaluator_on=(mode == "evaluator_on"))
                if mode == "stock":
                    evaluator_s = _stock_start_evaluator(engine)
            probe_s, expected, raised = _probe(cloud, engine)
            vertices = engine.graph.num_vertices()
            edges = engine.graph.num_edges()
            errors = list(engine.errors)
        finally:
            engine.stop()
    peak = _rss_kb("VmHWM")
    return {
        "units": units, "mode": mode,
        "load_s": round(load_s, 3),
        "evaluator_start_s": round(evaluator_s, 3),
        "probe_s": round(probe_s, 3),
        "ready_s": round(load_s + evaluator_s + probe_s, 3),
        "probe_units": expected, "probe_alarms": raised,
        "vertices": vertices, "edges": edges,
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_per_vertex_kb": round((peak - rss_before) / max(vertices, 1),
                                   2),
        "rss_per_unit_kb": round((peak - rss_before) / units, 2),
        "notifications": sink.submitted + sink.rejected,
        "engine_errors": len(errors),
    }


def _spawn(units: int, mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(units), "--mode", mode],
        check=True, capture_output=True, text=True,
        env=dict(os.environ, PYTHONHASHSEED=os.environ.get(
            "PYTHONHASHSEED", "0")))
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table(results: dict) -> str:
    cols = ("units", "mode", "load_s", "evaluator_start_s", "probe_s",
            "ready_s", "probe_alarms", "vertices", "peak_rss_mb",
            "rss_per_vertex_kb", "engine_errors")
    heads = ("units", "mode", "load s", "eval start s", "probe s",
             "ready s", "alarms", "vertices", "peak RSS MB", "KB/vertex",
             "errors")
    widths = [max(len(h), 8) for h in heads]
    lines = ["  ".join(f"{h:>{w}}" for h, w in zip(heads, widths,
                                                    strict=True))]
    for size in results["sizes"]:
        for row in size["runs"].values():
            lines.append("  ".join(f"{row[c]!s:>{w}}" for c, w in
                                   zip(cols, widths, strict=True)))
        for name, ratio in size.get("ratios", {}).items():
            lines.append(f"  ready time {name}: {ratio}x")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--modes", default="selfheal,stock")
    parser.add_argument("--with-evaluator-on", action="store_true",
                        help="also the evaluator running during the load")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.child, args.mode)))
        return 0
    modes = [m for m in args.modes.split(",") if m]
    if args.with_evaluator_on and "evaluator_on" not in modes:
        modes.append("evaluator_on")
    results: dict = {"sizes": []}
    for size in (int(s) for s in args.sizes.split(",") if s):
        runs = {mode: _spawn(size, mode) for mode in modes}
        entry: dict = {"units": size, "runs": runs, "ratios": {}}
        for other in ("stock", "evaluator_on"):
            if "selfheal" in runs and other in runs:
                entry["ratios"][f"{other} / selfheal"] = round(
                    runs[other]["ready_s"] / runs["selfheal"]["ready_s"], 1)
        results["sizes"].append(entry)
        if not args.json:
            print(_table({"sizes": [entry]}), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
