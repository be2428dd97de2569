"""Startup timeout: a unit that has been unhealthy since it came up
(scale-out, replacement) is a failed start, not a fault of a running unit
(Cluster API's nodeStartupTimeout).

It waits until `startup_timeout` after it came up (at least `unit_grace`)
for its alarms to clear; then it is healed once, the heal's reason saying
STARTUP_TIMEOUT. If the unit that heal made never becomes healthy either,
replacing it again would only loop: it is held STARTUP_TIMEOUT until its
alarms clear.
"""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.stage import UnitContext
from vitrage_selfheal.model import Action, Decision, Intent, Reason


def came_up_sick(ctx: UnitContext) -> bool:
    """An active heal alarm of this incarnation was raised while it was
    still starting (within unit_grace / startup_timeout of coming up): it
    has not been healthy since. Alarms raised before it came up were
    answered by the heal or scale that made it."""
    since = ctx.unit.warming_since
    if since is None:
        return False
    window = max(ctx.policy.startup_timeout, ctx.policy.unit_grace)
    alarms = ctx.view.active_alarms(ctx.unit.unit_key, Intent.HEAL)
    return any(since <= a.since < since + window for a in alarms)


class StartupTimeout:
    def check(self, ctx: UnitContext) -> Optional[Decision]:
        if not came_up_sick(ctx):
            return None
        since = ctx.unit.warming_since
        assert since is not None
        timeout = max(ctx.policy.startup_timeout, ctx.policy.unit_grace)
        age = ctx.now - since
        replaced_for_it = (since == ctx.unit.last_healed_at and
                           ctx.view.last_admitted(ctx.unit.unit_key)
                           == Reason.STARTUP_TIMEOUT.value)
        if replaced_for_it:
            return ctx.decide(
                Action.HOLD, Reason.STARTUP_TIMEOUT,
                f"replaced for a failed start, and the replacement has not "
                f"been healthy either ({age:.0f}s): not replaced again "
                f"until its alarms clear")
        if age < timeout:
            return ctx.decide(
                Action.HOLD, Reason.STARTUP_TIMEOUT,
                f"unhealthy since it came up {age:.0f}s ago; healed at "
                f"startup_timeout {timeout:.0f}s if still so",
                until=since + timeout)
        return None
