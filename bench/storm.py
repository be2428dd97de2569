"""A rack-loss storm, vitrage-selfheal against stock Vitrage's own heal
path, on the embedded real engine (see bench/stormbench/).

Each (side, PYTHONHASHSEED) runs in a fresh interpreter, because the hash
seed is fixed at start; the storm itself never depends on it.

    python bench/storm.py [--partial] [--units 1000] [--stacks 50]
        [--hosts 20] [--seeds 0,1,2] [--policy default|no-storm-guard|
        no-limits] [--sides selfheal,stock] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POLICIES = {
    # A short cooldown, so a late alarm that re-heals a replacement does
    # so within the run (the default 300 s would hide it).
    "default": {"cooldown": 20.0},
    "no-storm-guard": {"cooldown": 20.0, "min_heal_allowed": 10**6},
    "no-limits": {"cooldown": 20.0, "min_heal_allowed": 10**6,
                  "max_dispatches_per_minute": 10**6},
}


def _policy(name: str):
    from vitrage_selfheal.decide.policy import Policy
    return dataclasses.replace(Policy(), **POLICIES[name])


def child(args: argparse.Namespace) -> dict:
    from bench.stormbench import run, topology

    storm = topology.build(args.units, args.stacks, args.hosts, args.partial)
    settings = run.Settings(args.child, _policy(args.policy),
                            heal_duration=args.heal_duration,
                            settle=args.settle)
    with tempfile.TemporaryDirectory(prefix="selfheal-storm-") as tmp:
        return run.run(storm, settings, pathlib.Path(tmp))


def spawn(side: str, seed: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", side, "--units",
           str(args.units), "--stacks", str(args.stacks), "--hosts",
           str(args.hosts), "--policy", args.policy, "--heal-duration",
           str(args.heal_duration), "--settle", str(args.settle)]
    if args.partial:
        cmd.append("--partial")
    env = dict(os.environ, PYTHONHASHSEED=seed)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} seed {seed} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


SUMMED = ("executions", "duplicate_heals", "missed_units",
          "unresolved_inputs", "units_healed")


def summarise(runs: dict[str, dict]) -> dict:
    first = next(iter(runs.values()))
    out = {k: first[k] for k in ("affected_stacks", "storm_events")}
    for key in SUMMED + ("last_dispatch_after_last_event_s",
                         "events_per_s", "peak_rss_mb"):
        values = [r[key] for r in runs.values()]
        out[key] = max(values) if key in SUMMED else values
        out[f"{key}_range"] = [min(values), max(values)]
    out["identical_across_seeds"] = len({r["digest"]
                                         for r in runs.values()}) == 1
    out["runs"] = runs
    return out


def table(result: dict) -> str:
    rows = ["| side | executions | affected stacks | units healed | "
            "duplicates | missed | unresolved | last event -> last "
            "dispatch (s) | engine events/s | peak RSS MB | same for "
            "every seed |", "|---" * 11 + "|"]
    for side, s in result.items():
        def span(key: str, s: dict = s) -> str:
            lo, hi = s[f"{key}_range"]
            return f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"
        rows.append(
            f"| {side} | {span('executions')} | {s['affected_stacks']} | "
            f"{span('units_healed')} | {span('duplicate_heals')} | "
            f"{span('missed_units')} | {span('unresolved_inputs')} | "
            f"{span('last_dispatch_after_last_event_s')} | "
            f"{span('events_per_s')} | {span('peak_rss_mb')} | "
            f"{'yes' if s['identical_across_seeds'] else 'no'} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--stacks", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--partial", action="store_true",
                        help="a quarter of the hosts down, not all")
    parser.add_argument("--seeds", default="0,1,2",
                        help="PYTHONHASHSEED values, comma-separated")
    parser.add_argument("--policy", choices=sorted(POLICIES),
                        default="default")
    parser.add_argument("--sides", default="selfheal,stock",
                        help="selfheal, stock (the baseline) and engine "
                             "(our templates with a sink that drops "
                             "everything: the plugin's cost)")
    parser.add_argument("--heal-duration", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=25.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=("selfheal", "stock", "engine"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args), sort_keys=True))
        return 0
    result = {}
    for side in args.sides.split(","):
        runs = {seed: spawn(side, seed, args)
                for seed in args.seeds.split(",")}
        result[{"stock": "baseline"}.get(side, side)] = summarise(runs)
    if "selfheal" in result and "engine" in result:
        mine = result["selfheal"]["events_per_s_range"][0]
        bare = result["engine"]["events_per_s_range"][1]
        result["selfheal"]["engine_rate_vs_bare_engine"] = round(
            mine / bare, 3)
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
