"""Root-cause suppression: replacing a unit cannot fix the switch below it.

A unit stays held while the root cause is active and for
`root_cause_settle` after it clears: the unit's own symptoms (Aodh
evaluates every 60 s by default) lag behind the root cause, and a unit
that recovers within the settle time is released without a heal.
"""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.stage import UnitContext
from vitrage_selfheal.model import Action, Decision, Intent, Reason


class RootCauseSuppression:
    def check(self, ctx: UnitContext) -> Optional[Decision]:
        key = ctx.unit.unit_key
        causes = ctx.view.active_alarms(key, Intent.SUPPRESS)
        if causes:
            names = ", ".join(sorted({a.alarm_name for a in causes}))
            return ctx.decide(Action.HOLD, Reason.SUPPRESSED_BY_ROOT_CAUSE,
                              f"root cause below the unit: {names}")
        cleared = ctx.view.last_cleared(key, Intent.SUPPRESS)
        settle = ctx.policy.root_cause_settle
        if cleared is None or ctx.now - cleared >= settle:
            return None
        return ctx.decide(Action.HOLD, Reason.ROOT_CAUSE_SETTLING,
                          f"root cause cleared {ctx.now - cleared:.0f}s ago;"
                          f" healed only if still unhealthy after "
                          f"{settle:.0f}s", until=cleared + settle)
