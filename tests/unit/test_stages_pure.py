"""The decide stages over a plain in-memory history: no database, no
client, and no SQLAlchemy anywhere in decide/."""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import subprocess
import sys
from typing import Optional

from vitrage_selfheal.decide.dedup import Cooldown
from vitrage_selfheal.decide.holds import CircuitBreaker, OperatorHold
from vitrage_selfheal.decide.policy import Policy, Threshold
from vitrage_selfheal.decide.stack import RateLimit, StackSettled
from vitrage_selfheal.decide.stage import StackContext, UnitContext
from vitrage_selfheal.decide.storm import StormGuard
from vitrage_selfheal.decide.suppress import RootCauseSuppression
from vitrage_selfheal.model import (
    GLOBAL_SCOPE,
    AlarmRecord,
    HoldKind,
    HoldRecord,
    Intent,
    IntentRecord,
    Reason,
    UnitRecord,
)

DECIDE = pathlib.Path(__file__).resolve().parents[2] / "vitrage_selfheal" / \
    "decide"


@dataclasses.dataclass
class History:
    """A HistoryView (decide/view.py) made of lists."""

    holds: list[HoldRecord] = dataclasses.field(default_factory=list)
    alarms: list[AlarmRecord] = dataclasses.field(default_factory=list)
    intents: list[IntentRecord] = dataclasses.field(default_factory=list)
    sick: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    starts: list[float] = dataclasses.field(default_factory=list)

    def hold_for(self, root_stack_id: str) -> Optional[HoldRecord]:
        scopes = (GLOBAL_SCOPE, f"stack:{root_stack_id}")
        found = sorted((h for h in self.holds if h.scope in scopes),
                       key=lambda h: h.kind != HoldKind.OPERATOR)
        return found[0] if found else None

    def active_alarms(self, unit_key, intent):
        return [a for a in self.alarms if a.unit_key == unit_key
                and a.intent == intent.value and a.active]

    def last_cleared(self, unit_key, intent):
        times = [a.cleared_at for a in self.alarms if a.unit_key == unit_key
                 and a.intent == intent.value and not a.active]
        return max(times) if times else None

    def open_intent(self, unit_key):
        return next((i for i in self.intents if i.unit_key == unit_key),
                    None)

    def unhealthy_in_group(self, group_key):
        return self.sick.get(group_key, [])

    def starts_since(self, since):
        return sum(t >= since for t in self.starts)


UNIT = UnitRecord(unit_key="g/u0", root_stack_id="root", stack_id="g",
                  resource_name="u0", group_key="g", group_size=1)


def ctx(view, now=1000.0, policy=None, unit=UNIT):
    return UnitContext(view, now, policy or Policy(), unit)


def test_operator_hold_beats_breaker_and_reads_only_the_stack():
    view = History(holds=[
        HoldRecord("stack:root", HoldKind.BREAKER, "failed 3 times", 1),
        HoldRecord(GLOBAL_SCOPE, HoldKind.OPERATOR, "freeze", 2)])
    stack = StackContext(view, 10, Policy(), "root")
    assert OperatorHold().check(stack).reason is Reason.HELD_BY_OPERATOR
    view.holds.pop()
    assert CircuitBreaker().check(stack).reason is Reason.CIRCUIT_OPEN
    assert OperatorHold().check(stack) is None


def test_suppression_then_settle_then_nothing():
    sw = AlarmRecord("g/u0", "sw", "switch", Intent.SUPPRESS.value, True, 0)
    view = History(alarms=[sw])
    assert RootCauseSuppression().check(ctx(view)).reason is \
        Reason.SUPPRESSED_BY_ROOT_CAUSE
    view.alarms = [dataclasses.replace(sw, active=False, cleared_at=950.0)]
    settling = RootCauseSuppression().check(ctx(view))
    assert settling.reason is Reason.ROOT_CAUSE_SETTLING
    assert settling.until == 950.0 + Policy().root_cause_settle
    assert RootCauseSuppression().check(ctx(view, now=1040.0)) is None


def test_storm_floor_lets_a_one_unit_group_heal():
    view = History(sick={"g": ["g/u0"]})
    assert StormGuard().check(ctx(view)) is None
    strict = Policy(min_heal_allowed=0)
    assert StormGuard().check(ctx(view, policy=strict)).reason is \
        Reason.STORM_GUARD


def test_policy_limits_round_as_documented():
    p = Policy(max_unhealthy=Threshold.parse("50%"), min_heal_allowed=1,
               max_in_flight=Threshold.parse("50%", "max_in_flight"))
    assert [p.storm_limit(n) for n in (1, 2, 3, 4, 10)] == [1, 1, 1, 2, 5]
    assert [p.in_flight_limit(n) for n in (1, 2, 3, 4, 10)] == [
        1, 1, 2, 2, 5]
    assert Policy().storm_limit(4) == 3          # the default floor


def test_cooldown_says_until_when():
    view = History()
    healed = dataclasses.replace(UNIT, last_healed_at=900.0)
    held = Cooldown().check(ctx(view, unit=healed))
    assert held.reason is Reason.COOLDOWN and held.until == 1200.0


def test_stack_stages_wait_for_heat_and_the_rate():
    view = History(starts=[990.0] * 60)
    busy = StackContext(view, 1000, Policy(), "root", "UPDATE_IN_PROGRESS")
    assert StackSettled().check(busy).reason is Reason.STACK_IN_PROGRESS
    unknown = dataclasses.replace(busy, stack_status=None)
    assert StackSettled().check(unknown).reason is \
        Reason.STACK_STATUS_UNKNOWN
    done = dataclasses.replace(busy, stack_status="UPDATE_COMPLETE")
    assert StackSettled().check(done) is None
    assert RateLimit().check(done).reason is Reason.RATE_LIMITED


def test_decide_imports_no_sqlalchemy_no_ledger_no_client():
    banned = ("sqlalchemy", "vitrage_selfheal.ledger", "openstack",
              "keystoneauth1", "requests", "vitrage_selfheal.dispatch")
    for path in DECIDE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(banned), f"{path.name}: {name}"
    code = ("import sys, vitrage_selfheal.decide.gates; "
            "print('sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"
