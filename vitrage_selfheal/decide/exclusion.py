"""Exclusion and opt-in: stacks their owners keep out of healing.

A root stack tagged `selfheal:exclude` is never healed (Cluster API's
skip-remediation annotation, Masakari's HA_Enabled=False); with
`opt_in` on, only stacks tagged `selfheal:enabled` are. The tags reach
the unit through the heat.unit datasource (the vertex's
`selfheal_controls`), so a change of tags applies from the unit's next
alarm on; a unit already queued is stopped at its operation's start.
"""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.stage import Context, UnitContext
from vitrage_selfheal.model import (
    CONTROL_TAG_PREFIX,
    Action,
    Decision,
    Reason,
    control_words,
)

EXCLUDE = "exclude"
ENABLED = "enabled"


class Exclusion:
    def check(self, ctx: Context) -> Optional[Decision]:
        if not isinstance(ctx, UnitContext):
            return None
        words = control_words(ctx.unit.controls)
        if EXCLUDE in words:
            return ctx.decide(Action.SKIP, Reason.EXCLUDED,
                              f"stack {ctx.root_stack_id} is tagged "
                              f"{CONTROL_TAG_PREFIX}{EXCLUDE}: never healed")
        if ctx.policy.opt_in and ENABLED not in words:
            return ctx.decide(Action.SKIP, Reason.EXCLUDED,
                              f"opt_in is on and stack {ctx.root_stack_id} "
                              f"is not tagged {CONTROL_TAG_PREFIX}{ENABLED}")
        return None
