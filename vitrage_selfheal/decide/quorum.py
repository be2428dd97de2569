"""Quorum guard for stateful groups (a root stack tagged
`selfheal:quorum`): never two members out at once, and no heal at all
while fewer than a majority are healthy (etcd, Galera, ZooKeeper: a
group that lost its quorum needs a person, and replacing members of it
can make the loss permanent).

Out at once: a unit in the stack's operation (the queue gives a quorum
group one unit per operation) or being judged after a reboot or rebuild
(VERIFYING).
"""

from __future__ import annotations

from typing import Optional

from vitrage_selfheal.decide.stage import Context, UnitContext
from vitrage_selfheal.model import (
    Action,
    Decision,
    Reason,
    control_words,
)

QUORUM = "quorum"


def is_quorum_group(controls: Optional[str]) -> bool:
    return QUORUM in control_words(controls)


class QuorumGuard:
    def check(self, ctx: Context) -> Optional[Decision]:
        if not isinstance(ctx, UnitContext) or \
                not is_quorum_group(ctx.unit.controls):
            return None
        unit = ctx.unit
        size = unit.group_size
        if not size:
            return ctx.decide(Action.HOLD, Reason.QUORUM_GUARD,
                              "group size unknown: a majority cannot be "
                              "told")
        sick = ctx.view.unhealthy_in_group(unit.group_key)
        healthy = size - len(sick)
        majority = size // 2 + 1
        if healthy < majority:
            return ctx.decide(Action.HOLD, Reason.QUORUM_GUARD,
                              f"{healthy} of {size} units healthy, fewer "
                              f"than a majority ({majority}): no member "
                              f"of a group without quorum is healed")
        judged = [k for k in ctx.view.held_in_group(
            unit.group_key, Reason.VERIFYING.value) if k != unit.unit_key]
        if judged:
            return ctx.decide(Action.HOLD, Reason.QUORUM_GUARD,
                              f"{judged[0]} of the group is being judged "
                              f"after its remediation step: one member "
                              f"out at a time")
        return None
