"""What the operator commands show, as data: both command lines
(`vitrage-selfheal` and `openstack selfheal`) render these same records,
so their JSON and their tables cannot drift apart."""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import Any, Optional

from oslo_config import cfg

from vitrage_selfheal.cli.output import when
from vitrage_selfheal.ledger import migrate
from vitrage_selfheal.ledger.store import Ledger, batch_units
from vitrage_selfheal.model import HoldKind

HISTORY_FIELDS = ("at", "action", "reason", "unit", "stack", "batch",
                  "detail", "source", "replica")


def ledger_at_head(conf: cfg.ConfigOpts) -> Ledger:
    """The ledger as it is; raises migrate.SchemaNotCurrent unless at head.

    Operator commands never migrate: a newer or older CLI must not change
    the schema under running services (that is `db upgrade`'s job).
    """
    migrate.require_head(conf.selfheal.ledger_url)
    return Ledger(conf.selfheal.ledger_url)


def history(conf: cfg.ConfigOpts, stack: Optional[str] = None,
            unit: Optional[str] = None, reason: Optional[str] = None,
            limit: int = 200) -> list[dict[str, Any]]:
    """The newest `limit` decisions, oldest of them first (a log reads
    down); `at` is epoch seconds."""
    with ledger_at_head(conf).transaction() as tx:
        rows = tx.decisions(stack, unit, reason, limit)
    return [dict(zip(HISTORY_FIELDS,
                     (r.at, r.action, r.reason, r.unit_key, r.root_stack_id,
                      r.batch_id, r.detail, r.source, r.replica),
                     strict=True)) for r in rows]


@dataclasses.dataclass(frozen=True)
class Section:
    """One part of `status`: key is its JSON name, fields its records'
    keys, headers the table's column titles (same order)."""

    key: str
    title: str
    fields: tuple[str, ...]
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.fields, row, strict=True)) for row in self.rows]


@dataclasses.dataclass(frozen=True)
class Status:
    sections: list[Section]
    counters: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {s.key: s.records() for s in self.sections}
        doc["counters"] = self.counters
        return doc

    def problems(self) -> dict[str, int]:
        """The counters an operator looks at first: rejected input and
        errors."""
        return {k: v for k, v in sorted(self.counters.items())
                if "REJECT" in k or k.startswith(("decisions.MALFORMED",
                                                  "errors."))}


def status(conf: cfg.ConfigOpts) -> Status:
    """Holds, open operations, scales, trusts, units in flight, held and
    cooling-down units, counters; times as UTC text."""
    from vitrage_selfheal.simulate.ledger_file import simulated_now

    with ledger_at_head(conf).transaction() as tx:
        counters = tx.counters()
        # A ledger kept by `simulate --ledger`: its own clock.
        now = simulated_now(counters) or time.time()
        cooldown = conf.selfheal_policy.cooldown
        # Pause requests are listed one by one, not their marker.
        holds = [(h.scope, h.kind, when(h.since), h.reason)
                 for h in tx.holds() if h.kind != HoldKind.PAUSE]
        holds += [(p.scope, f"pause:{p.name}", when(p.since),
                   f"by {p.who or '?'}: {p.reason}") for p in tx.pauses()]
        if conf.selfheal_policy.shadow:
            holds.insert(0, ("global", "shadow", "-",
                             "[selfheal_policy] shadow = true"))
        sections = [
            Section("holds", "Holds and circuit breakers",
                    ("scope", "kind", "since", "reason"),
                    ("scope", "kind", "since", "reason"), holds),
            Section("batches", "Open stack operations",
                    ("operation", "stack", "kind", "state", "attempt",
                     "units", "waiting", "next_try", "since"),
                    ("operation", "root stack", "kind", "state", "attempt",
                     "units", "waiting", "next try", "since"),
                    [(b.id, b.root_stack_id, b.kind, b.state, b.attempt,
                      len(batch_units(b)), b.wait_reason or "",
                      when(b.next_try_at) if b.next_try_at else "",
                      when(b.created_at)) for b in tx.open_batches()]),
            Section("scales", "Scale requests",
                    ("group", "by", "state", "waiting", "operation",
                     "source", "since"),
                    ("group", "by", "state", "waiting", "operation",
                     "source", "since"),
                    [(s.group_key, f"{s.delta:+d}", s.state,
                      s.wait_reason or "", s.batch_id or "", s.source,
                      when(s.created_at)) for s in tx.open_scales()]),
            Section("trusts", "Trusts",
                    ("stack", "trust", "trustor", "project", "since"),
                    ("root stack", "trust", "trustor", "project", "since"),
                    [(t.root_stack_id, t.trust_id, t.trustor_user_id,
                      t.project_id, when(t.created_at))
                     for t in tx.trusts()]),
            Section("in_flight", "Units in flight",
                    ("unit", "step", "state", "waiting", "batch", "since"),
                    ("unit", "step", "state", "waiting", "batch", "since"),
                    [(i.unit_key, i.step, i.state, i.wait_reason,
                      i.batch_id, when(i.created_at))
                     for i in tx.in_flight()]),
            Section("held", "Held units",
                    ("unit", "reason", "until", "detail"),
                    ("unit", "reason", "until", "detail"),
                    [(u.unit_key, u.held_reason, when(u.held_until),
                      u.held_detail) for u in tx.held_units()]),
            Section("cooldown", "Cooling down",
                    ("unit", "healed", "left"), ("unit", "healed", "left"),
                    [(u.unit_key, when(u.last_healed_at),
                      f"{u.last_healed_at + cooldown - now:.0f}s")
                     for u in tx.units() if u.last_healed_at and
                     now - u.last_healed_at < cooldown]),
        ]
    return Status(sections, counters)


@dataclasses.dataclass(frozen=True)
class Simulation:
    report: Any                 # simulate.report.Report
    failures: list[str]         # expectations not met
    expected: int               # expectations in the scenario
    ledger: Optional[pathlib.Path]

    @property
    def met(self) -> int:
        return self.expected - len(self.failures)

    def summary(self) -> dict[str, Any]:
        doc = dict(self.report.summary())
        doc["expectations"] = {"met": self.met, "failed": self.failures}
        return doc


def simulate(scenario_path: str, templates: Optional[Sequence[str]] = None,
             ledger: Optional[str] = None) -> Simulation:
    """Run a scenario file through the real engine and check its expect:
    section. Raises simulate.scenario.ScenarioError for a bad scenario
    or --ledger; says its progress on stderr."""
    from vitrage_selfheal import paths
    from vitrage_selfheal.simulate import expect, runner, scenario

    kept = pathlib.Path(ledger).resolve() if ledger else None
    spec = scenario.load(scenario_path)
    if kept is not None and (kept.exists() or not kept.parent.is_dir()):
        raise scenario.ScenarioError(
            f"--ledger {ledger}: must be a new file in an existing folder")
    report = runner.run(spec, list(templates or [str(paths.templates_dir())]),
                        ledger_path=kept,
                        progress=lambda line: print(
                            f"simulate: {line}", file=sys.stderr,
                            flush=True))
    expected = spec.expect or expect.Expectations()
    return Simulation(report, expect.check(expected, report),
                      expected.count(), kept)
