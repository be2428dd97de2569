"""The escalation ladder: the cheaper remedies first, replacement last.

A ladder is an ordered list of steps, each with a timeout, e.g.
`reboot:300>rebuild:600>replace` (medik8s escalatingRemediations, Senlin's
REBOOT/REBUILD/RECREATE, AKS reboot -> reimage -> redeploy). A unit's first
heal starts at the first step. A step other than replace that ends is
judged when its timeout ends (VERIFYING meanwhile: a rebooted server's
alarms during its boot say nothing): healthy then is REMEDIATED and the
sequence ends; still unhealthy, or the step failed, is ESCALATED to the
next step. Replace is always the last step, and the default ladder is
replace alone.

Per stack: the root stack's tag `selfheal:ladder=<ladder>` (Heat tags
cannot hold a comma, hence `>`), read as every per-stack setting is
(decide/overrides.py). A budget of remediation steps per unit
(`max_remediations_per_unit` within `remediation_window`) ends in a hold,
REMEDIATION_BUDGET, never in a loop.
"""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.flap import recent_heals
from vitrage_selfheal.decide.stage import UnitContext
from vitrage_selfheal.decide.steps import (
    Ladder,
    Step,
)
from vitrage_selfheal.model import (
    Action,
    Decision,
    Reason,
    UnitRecord,
)


def next_step(unit: UnitRecord, ladder: Ladder) -> tuple[Step, bool]:
    """The step a heal of the unit takes now; True when it continues an
    open sequence (an escalation) rather than starting one."""
    if unit.remedy is None:
        return ladder[0], False
    names = [s.name for s in ladder]
    if unit.remedy in names:
        return ladder[min(names.index(unit.remedy) + 1, len(ladder) - 1)], \
            True
    # The ladder changed under an open sequence: the last step is safe.
    return ladder[-1], True


class Verifying:
    """A step other than replace ended: the unit's alarms wait until the
    step's timeout has passed, then decide between REMEDIATED and the
    next step."""

    def check(self, ctx: UnitContext) -> Optional[Decision]:
        unit = ctx.unit
        if unit.held_reason != Reason.VERIFYING.value or \
                unit.held_until is None or ctx.now >= unit.held_until:
            return None
        ended = ctx.now - (unit.remedy_at or ctx.now)
        return ctx.decide(Action.HOLD, Reason.VERIFYING,
                          f"{unit.remedy} ended {ended:.0f}s ago; judged "
                          f"in {unit.held_until - ctx.now:.0f}s",
                          until=unit.held_until)


class RemediationBudget:
    def check(self, ctx: UnitContext) -> Optional[Decision]:
        policy = ctx.policy
        if policy.max_remediations_per_unit <= 0:
            return None
        recent = recent_heals(ctx.unit.remedy_times, ctx.now,
                              policy.remediation_window)
        if len(recent) < policy.max_remediations_per_unit:
            return None
        return ctx.decide(Action.HOLD, Reason.REMEDIATION_BUDGET,
                          f"{len(recent)} remediation steps within "
                          f"{policy.remediation_window:.0f}s (max_"
                          f"remediations_per_unit "
                          f"{policy.max_remediations_per_unit})",
                          until=recent[0] + policy.remediation_window)
