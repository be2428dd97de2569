"""The timeline a simulation prints, and its JSON form for machines."""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any, TextIO

from vitrage_selfheal.model import Decision


class Report:
    def __init__(self, epoch: float) -> None:
        self.epoch = epoch
        self.entries: list[dict[str, Any]] = []
        self.executions: list[dict[str, Any]] = []

    def _add(self, at: float, kind: str, **fields: Any) -> None:
        self.entries.append({"t": round(at - self.epoch, 3), "kind": kind,
                             **fields})

    def event(self, at: float, text: str) -> None:
        self._add(at, "event", text=text)

    def note(self, at: float, text: str) -> None:
        self._add(at, "note", text=text)

    def deduced(self, at: float, change: str, name: str, resource: str,
                causes: list[str]) -> None:
        self._add(at, "deduced", change=change, name=name,
                  resource=resource, causes=causes)

    def decision(self, at: float, d: Decision) -> None:
        self._add(at, "decision", action=d.action.value,
                  reason=d.reason.value, unit=d.unit_key,
                  stack=d.root_stack_id, detail=d.detail)

    def engine_error(self, at: float, text: str) -> None:
        """An exception inside Vitrage's processing, caught by the
        embedded engine (logged and counted there): what it did not do,
        the run does not show."""
        self._add(at, "engine_error", text=text)

    def execution(self, at: float, change: str, root: str,
                  units: list[str]) -> None:
        self._add(at, "execution", change=change, stack=root,
                  units=sorted(units))

    def finish(self, runs: Iterable[Any]) -> None:
        self.executions = sorted(
            (_execution(r) for r in runs),
            key=lambda e: (e["stack"], e["units"], e.get("scale", "")))

    # -- views -------------------------------------------------------------
    def decisions(self, reason: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["kind"] == "decision"
                and (reason is None or e["reason"] == reason)]

    def heals(self) -> list[dict[str, Any]]:
        return self.executions

    def engine_errors(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["kind"] == "engine_error"]

    def summary(self) -> dict[str, Any]:
        reasons = collections.Counter(e["reason"] for e in self.decisions())
        return {"executions": self.executions,
                "decisions": dict(sorted(reasons.items())),
                "engine_errors": len(self.engine_errors()),
                "deduced_alarms": sorted({
                    (e["name"], e["resource"]) for e in self.entries
                    if e["kind"] == "deduced" and e["change"] == "activate"})}

    def canonical(self) -> list[dict[str, Any]]:
        """Entries in the order they happened. That order is deterministic:
        the engine delivers each event's notifications sorted, and the
        healer walks stacks and units in sorted order."""
        return list(self.entries)

    def as_json(self) -> dict[str, Any]:
        return {"timeline": self.canonical(), "summary": self.summary()}

    def print(self, out: TextIO) -> None:
        for e in self.canonical():
            out.write(f"t+{e['t']:7.1f}s  {_line(e)}\n")
        s = self.summary()
        out.write(f"\n{len(s['executions'])} heal execution(s):\n")
        for ex in s["executions"]:
            out.write(f"  stack {ex['stack']}: {', '.join(ex['units'])} "
                      f"-> {ex['state']}\n")
        out.write("decisions: " + ", ".join(
            f"{k}={v}" for k, v in s["decisions"].items()) + "\n")
        if s["engine_errors"]:
            out.write(f"engine errors: {s['engine_errors']} (see ENGINE "
                      f"lines)\n")


def _execution(run: Any) -> dict[str, Any]:
    done = {"stack": run.root, "units": sorted(u.key for u in run.units),
            "state": run.state.value}
    plan = getattr(run, "scale", None)
    if plan is not None:
        done["scale"] = f"{plan.group.key} {plan.size_before}->{plan.target}"
        if plan.victims:
            done["removes"] = sorted(plan.victims)
    return done


def _line(e: dict[str, Any]) -> str:
    kind = e["kind"]
    if kind == "event":
        return f"EVENT     {e['text']}"
    if kind == "note":
        return f"CLOUD     {e['text']}"
    if kind == "engine_error":
        return f"ENGINE    error: {e['text']}"
    if kind == "deduced":
        sign = "+" if e["change"] == "activate" else "-"
        chain = "".join(f"\n{'':21}caused by {c}" for c in e["causes"])
        return f"DEDUCED {sign} {e['name']} on {e['resource']}{chain}"
    if kind == "decision":
        where = e["unit"] or e["stack"] or "-"
        return (f"DECISION  {e['action']}/{e['reason']} {where}: "
                f"{e['detail']}")
    return (f"EXECUTION {e['change']} stack {e['stack']}: "
            f"{', '.join(e['units'])}")
