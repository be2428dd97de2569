"""Root-cause suppression: replacing a unit cannot fix the switch below it."""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.reasons import Action, Decision, Reason
from vitrage_selfheal.decide.stage import Context
from vitrage_selfheal.model import Intent


class RootCauseSuppression:
    def check(self, ctx: Context) -> Optional[Decision]:
        causes = ctx.tx.active_alarms(ctx.unit.unit_key, Intent.SUPPRESS)
        if not causes:
            return None
        names = ", ".join(sorted({a.alarm_name for a in causes}))
        return ctx.decide(Action.HOLD, Reason.SUPPRESSED_BY_ROOT_CAUSE,
                          f"root cause below the unit: {names}")
