"""`vitrage-selfheal demo`: four acts on one cluster, narrated and checked.

Runs scenarios/demo.yaml through the real Vitrage engine (our datasource,
templates and notifier) and the real decision pipeline. Heat and Mistral
are the simulator's recording executor until the local cloud is up; the
ledger it leaves behind answers `vitrage-selfheal history`.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
from typing import Optional, TextIO

from vitrage_selfheal import paths
from vitrage_selfheal.cli.output import table
from vitrage_selfheal.simulate import report as report_mod
from vitrage_selfheal.simulate import runner, scenario


@dataclasses.dataclass(frozen=True)
class Fault:
    title: str
    at: float
    units: tuple[str, ...]          # expected to be healed, in ONE execution
    watch: tuple[str, ...] = ()     # expected NOT to be healed again
    reason: str = "FIRST_HEAL"
    # A scale of the group asked at `at`: its execution runs first, the
    # heal after it (one stack operation at a time).
    scale_by: int = 0


FAULTS = (
    Fault("server deleted out of band", 5, ("demo-asg/unit-0",)),
    Fault("two units fail within the coalescing window", 40,
          ("demo-asg/unit-1", "demo-asg/unit-2")),
    Fault("flapping alarm on the unit healed first", 80, (),
          ("demo-asg/unit-0",), "COOLDOWN"),
    Fault("scale-out, a unit dies during it", 120, ("demo-asg/unit-3",),
          reason="STACK_BUSY", scale_by=1),
)


def _first(entries: list[dict], after: float, before: float,
           units: Optional[tuple[str, ...]] = None, **match: object
           ) -> Optional[dict]:
    for e in entries:
        if not after <= e["t"] < before:
            continue
        if any(e.get(k) != v for k, v in match.items()):
            continue
        if units is not None and e.get("unit") not in units:
            continue
        return e
    return None


def check(report: report_mod.Report) -> tuple[list[list[str]], list[str]]:
    """Rows of the summary table and the list of failed checks."""
    rows, failures = [], []
    entries = report.canonical()
    bounds = [f.at for f in FAULTS] + [float("inf")]
    for fault, end in zip(FAULTS, bounds[1:], strict=True):
        units = fault.units or fault.watch
        detected = _first(entries, fault.at, end, kind="deduced",
                          change="activate")
        decided = _first(entries, fault.at, end, units, kind="decision",
                         reason=fault.reason)
        started = _first(entries, fault.at, end, kind="execution",
                         change="start")
        finished = [e for e in entries if fault.at <= e["t"] < end
                    and e["kind"] == "execution" and e["change"] == "success"]
        done = finished[-1] if finished else None
        starts = [e for e in entries if fault.at <= e["t"] < end
                  and e["kind"] == "execution" and e["change"] == "start"]
        healed = [e for e in starts if e["units"]]
        scaled = [e for e in starts if not e["units"]]
        if fault.scale_by and (len(scaled) != 1 or not healed
                               or scaled[0]["t"] > healed[0]["t"]):
            failures.append(f"{fault.title}: expected one scale execution, "
                            f"then the heal; got {len(scaled)} scale(s) "
                            f"and heals {[h['units'] for h in healed]}")
        elif scaled and not fault.scale_by:
            failures.append(f"{fault.title}: a scale ran, none was asked")
        if fault.units:
            if len(healed) != 1 or healed[0]["units"] != sorted(fault.units):
                failures.append(f"{fault.title}: expected one execution for "
                                f"{', '.join(fault.units)}, got "
                                f"{[h['units'] for h in healed]}")
        elif healed:
            failures.append(f"{fault.title}: expected no execution, got "
                            f"{[h['units'] for h in healed]}")
        if decided is None:
            failures.append(f"{fault.title}: no {fault.reason} decision")
        recovery = (f"{done['t'] - fault.at:.1f}s" if done else
                    f"none needed ({fault.reason})" if not fault.units
                    else "-")
        rows.append([fault.title, _t(fault.at), _t(detected), _t(decided),
                     _t(started), _t(done), recovery])
    healed_units = {u for h in report.heals() for u in h["units"]}
    expected = {u for f in FAULTS for u in f.units}
    if healed_units - expected:
        failures.append(f"units healed that had no fault: "
                        f"{sorted(healed_units - expected)}")
    if any(h["state"] != "SUCCESS" for h in report.heals()):
        failures.append("an execution did not succeed")
    return rows, failures


def _t(entry: object) -> str:
    if entry is None:
        return "-"
    at = entry["t"] if isinstance(entry, dict) else entry
    return f"t+{at:.1f}s"


def run(workdir: pathlib.Path, out: TextIO = sys.stdout) -> int:
    spec = scenario.load(paths.scenarios_dir() / "demo.yaml")
    paths.fresh_workdir(workdir)
    out.write(f"vitrage-selfheal demo: {spec.name}\n"
              f"  engine: Vitrage's real graph, processor, evaluator and "
              f"notifier, in-process\n"
              f"  heals: recording executor (Mistral and Heat simulated, "
              f"{spec.heal_duration:g}s per heal)\n\n")
    report = runner.run(spec, [str(paths.templates_dir())], workdir)
    report.print(out)
    rows, failures = check(report)
    out.write("\nPer fault (simulated time):\n")
    table(("fault", "injected", "detected", "decision", "execution",
           "update complete", "recovery"), rows, out=out)
    conf = workdir / "selfheal.conf"
    conf.write_text(f"[selfheal]\nstate_path = {workdir}\n"
                    f"ledger_url = sqlite:///{workdir}/ledger.db\n")
    out.write(f"\nHistory: vitrage-selfheal --config-file {conf} history\n")
    if failures:
        out.write("\nFAILED checks:\n" + "".join(f"  - {f}\n"
                                                 for f in failures))
        return 1
    out.write("\nAll checks held: each fault healed once, the two coalesced "
              "faults in one execution, no other unit touched, the flapping "
              "alarm held by COOLDOWN, the heal during the scale-out after "
              "it (STACK_BUSY).\n")
    return 0
