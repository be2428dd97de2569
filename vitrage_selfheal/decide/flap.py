"""Flap damping: a unit healed again and again is not the unit's fault."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from vitrage_selfheal.decide.stage import UnitContext
from vitrage_selfheal.model import Action, Decision, Reason


def recent_heals(heal_times: Iterable[float], now: float,
                 window: float) -> list[float]:
    return sorted(t for t in heal_times if now - t < window)


class FlapDamping:
    def check(self, ctx: UnitContext) -> Optional[Decision]:
        policy = ctx.policy
        recent = recent_heals(ctx.unit.heal_times, ctx.now, policy.flap_window)
        if len(recent) < policy.flap_max_heals:
            return None
        return ctx.decide(Action.HOLD, Reason.FLAPPING,
                          f"{len(recent)} heals within "
                          f"{policy.flap_window:.0f}s (max "
                          f"{policy.flap_max_heals})",
                          until=recent[0] + policy.flap_window)
