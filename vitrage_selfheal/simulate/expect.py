"""A scenario's `expect:` section: parsed with the scenario, checked by
`vitrage-selfheal simulate` after the run.

    expect:
      executions: {stack-a: 1}      # executions dispatched per stack, exact
      units_healed: [group-a/a-0]   # or {group-a/a-0: 2}: exact count
      reasons: [FIRST_HEAL, COOLDOWN]
      not_healed: [group-a/a-1]
      engine_errors: 0              # the default

A unit is healed by a remediation that worked: an execution that replaced
it (EXECUTION_SUCCEEDED) or a step that brought it back (REMEDIATED).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import TYPE_CHECKING, Any, Optional

from vitrage_selfheal.model import Reason
from vitrage_selfheal.simulate import fields as f
from vitrage_selfheal.simulate.fields import ScenarioError

if TYPE_CHECKING:
    from vitrage_selfheal.simulate.events import Known
    from vitrage_selfheal.simulate.report import Report

HEALED = (Reason.EXECUTION_SUCCEEDED.value, Reason.REMEDIATED.value)
KEYS = ("executions", "units_healed", "reasons", "not_healed",
        "engine_errors")


@dataclasses.dataclass(frozen=True)
class Expectations:
    executions: tuple[tuple[str, int], ...] = ()
    # (unit, exact count), or None for "at least once".
    units_healed: tuple[tuple[str, Optional[int]], ...] = ()
    reasons: tuple[str, ...] = ()
    not_healed: tuple[str, ...] = ()
    engine_errors: int = 0

    def count(self) -> int:
        """How many expectations there are (engine_errors is always one)."""
        return (len(self.executions) + len(self.units_healed) +
                len(self.reasons) + len(self.not_healed) + 1)


def parse(doc: Any, where: str, known: Known) -> Expectations:
    if doc is None:
        return Expectations()
    d = f.mapping(doc, where, KEYS)
    executions = tuple(
        (_stack(stack, f"{where}.executions", known),
         f.integer(n, f"{where}.executions.{stack}"))
        for stack, n in f.mapping(d.get("executions", {}),
                                  f"{where}.executions").items())
    healed = _units_healed(d.get("units_healed", []),
                           f"{where}.units_healed", known)
    not_healed = tuple(_unit(u, f"{where}.not_healed[{n}]", known)
                       for n, u in enumerate(f.sequence(
                           d.get("not_healed", []), f"{where}.not_healed")))
    f.unique(not_healed, f"{where}.not_healed", "unit")
    for unit in not_healed:
        if unit in dict(healed):
            raise ScenarioError(f"{where}.not_healed: {unit!r} is also in "
                                f"units_healed")
    reasons = tuple(_reason(r, f"{where}.reasons[{n}]")
                    for n, r in enumerate(f.sequence(
                        d.get("reasons", []), f"{where}.reasons")))
    f.unique(reasons, f"{where}.reasons", "reason")
    return Expectations(
        executions=executions, units_healed=healed, reasons=reasons,
        not_healed=not_healed,
        engine_errors=f.integer(d.get("engine_errors", 0),
                                f"{where}.engine_errors"))


def _stack(value: Any, where: str, known: Known) -> str:
    stack = f.name(value, where)
    if stack not in known.stacks:
        raise ScenarioError(f"{where}.{stack}: not in topology.stacks")
    return stack


def _unit(value: Any, where: str, known: Known) -> str:
    unit = f.name(value, where)
    if not known.unit(unit):
        raise ScenarioError(
            f"{where}: {unit!r} is not a unit of the topology "
            f"(<group stack_id>/<unit name>, or a scale-out's "
            f"<group>/scaled-N)")
    return unit


def _units_healed(doc: Any, where: str,
                  known: Known) -> tuple[tuple[str, Optional[int]], ...]:
    if isinstance(doc, dict):
        pairs = tuple((_unit(u, f"{where}.{u}", known),
                       f.integer(n, f"{where}.{u}", minimum=1))
                      for u, n in doc.items())
    elif isinstance(doc, list):
        pairs = tuple((_unit(u, f"{where}[{n}]", known), None)
                      for n, u in enumerate(doc))
    else:
        raise ScenarioError(f"{where}: expected a list of units or a "
                            f"mapping unit -> count, got "
                            f"{type(doc).__name__}")
    f.unique((u for u, _ in pairs), where, "unit")
    return pairs


def _reason(value: Any, where: str) -> str:
    reason = f.name(value, where)
    if reason not in Reason.__members__:
        raise ScenarioError(f"{where}: {reason!r} is not a decision reason;"
                            f" known: {', '.join(sorted(Reason.__members__))}")
    return reason


def check(expect: Expectations, report: Report) -> list[str]:
    """Each expectation the run did not meet, saying what was expected and
    what happened."""
    failures = []
    per_stack = collections.Counter(h["stack"] for h in report.heals())
    for stack, wanted in expect.executions:
        got = per_stack[stack]
        if got != wanted:
            units = [h["units"] or [h.get("scale", "scale")]
                     for h in report.heals() if h["stack"] == stack]
            failures.append(f"executions.{stack}: expected {wanted}, got "
                            f"{got} {units}")
    healed = collections.Counter(d["unit"] for d in report.decisions()
                                 if d["reason"] in HEALED)
    for unit, wanted in expect.units_healed:
        got = healed[unit]
        if (wanted is None and got == 0) or (wanted is not None and
                                             got != wanted):
            failures.append(
                f"units_healed.{unit}: expected "
                f"{'at least 1' if wanted is None else wanted} heal(s), "
                f"got {got}; its decisions: {_reasons_of(report, unit)}")
    for unit in expect.not_healed:
        if healed[unit]:
            failures.append(f"not_healed.{unit}: healed {healed[unit]} "
                            f"time(s); its decisions: "
                            f"{_reasons_of(report, unit)}")
    seen = {d["reason"] for d in report.decisions()}
    for reason in expect.reasons:
        if reason not in seen:
            failures.append(f"reasons.{reason}: never decided; decided: "
                            f"{', '.join(sorted(seen)) or 'nothing'}")
    errors = report.engine_errors()
    if len(errors) != expect.engine_errors:
        failures.append(f"engine_errors: expected {expect.engine_errors}, "
                        f"got {len(errors)}" + "".join(
                            f"\n    {e['text']}" for e in errors))
    return failures


def _reasons_of(report: Report, unit: str) -> str:
    return ", ".join(d["reason"] for d in report.decisions()
                     if d["unit"] == unit) or "none"
