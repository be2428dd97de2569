"""The knobs of the decision layer, as plain values (no oslo.config here).

The defaults below are the only ones: the oslo options of opts.py take
theirs from `Policy()`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from vitrage_selfheal.decide.steps import DEFAULT_LADDER, Ladder


@dataclasses.dataclass(frozen=True)
class Threshold:
    """A share of a group ("50%") or a count ("3")."""

    value: float
    percent: bool

    @classmethod
    def parse(cls, text: str, name: str = "max_unhealthy") -> Threshold:
        raw = str(text).strip()
        try:
            if raw.endswith("%"):
                value = float(raw[:-1])
                if not 0 < value <= 100:
                    raise ValueError
                return cls(value, True)
            value = int(raw)
            if value < 1:
                raise ValueError
            return cls(value, False)
        except ValueError:
            raise ValueError(
                f"{name} {text!r} must be a percentage in (0, 100] "
                f"such as '50%' or a positive count such as '3'") from None

    def limit(self, group_size: Optional[int], unknown_size_limit: int,
              round_up: bool = False) -> int:
        """The count this threshold allows in a group of `group_size`."""
        if not self.percent:
            return int(self.value)
        if not group_size:
            return unknown_size_limit
        share = group_size * self.value / 100.0
        return math.ceil(share) if round_up else math.floor(share)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else str(int(self.value))


@dataclasses.dataclass(frozen=True)
class Policy:
    cooldown: float = 300.0
    flap_max_heals: int = 3
    flap_window: float = 3600.0
    # Storm guard: more unhealthy units than max(max_unhealthy of the group,
    # min_heal_allowed) hold the whole group. The floor is Cluster
    # Autoscaler's ok-total-unready-count: small groups always heal.
    max_unhealthy: Threshold = Threshold(50.0, True)
    min_heal_allowed: int = 3
    # A percentage needs the group size; without it, tolerate this many.
    max_unhealthy_unknown_size: int = 2
    # Units of one group replaced by one stack operation (rounded up, at
    # least 1); the others wait for the next operation.
    max_in_flight: Threshold = Threshold(50.0, True)
    # A held unit is reconsidered only once its root cause has been clear
    # this long (one Aodh evaluation period and then some): symptoms lag.
    root_cause_settle: float = 90.0
    # A stack's queued units form one operation once no new unit came for
    # coalesce_window, or coalesce_max after the first (group_wait with a
    # ceiling): a storm's units, arriving over seconds, heal together.
    coalesce_window: float = 2.0
    coalesce_max: float = 10.0
    max_dispatches_per_minute: int = 60
    max_attempts: int = 3
    retry_backoff: float = 30.0
    # selfheal.heal_units' own bounded waits (1800 s by its defaults)
    # x 1.25, plus fencing's (stop 120 s + safe_time_to_assume_dead) and
    # the pre-replace hook's timeout when one is set; opts.py derives it
    # from [mistral] and refuses less.
    execution_timeout: float = 2550.0
    # How long a cancelled execution may take to be confirmed terminal
    # before the stack's breaker opens; no new attempt starts meanwhile.
    cancel_timeout: float = 300.0
    # A unit created by a scale-out or replaced by a heal is not healed for
    # this long: it is still booting (AWS HealthCheckGracePeriod, GCP
    # initialDelaySec). Its alarms are held UNIT_GRACE, then reconsidered.
    unit_grace: float = 120.0
    # After a group scaled, alarm-driven requests on it wait this long
    # (SCALE_COOLDOWN): the new size must show in the metrics first.
    # Operator requests do not wait.
    scale_cooldown: float = 300.0
    # A unit unhealthy since it came up is healed this long after (at
    # least unit_grace), reason STARTUP_TIMEOUT; not again if its
    # replacement never becomes healthy either (Cluster API
    # nodeStartupTimeout, 10 min there). 0: at the end of unit_grace.
    startup_timeout: float = 0.0
    # Every stack in shadow mode (SHADOW): decide and record, dispatch
    # nothing. `vitrage-selfheal shadow on --stack S` does it per stack.
    shadow: bool = False
    # Only stacks tagged selfheal:enabled are healed (EXCLUDED otherwise);
    # a stack tagged selfheal:exclude never is, whatever this says.
    opt_in: bool = False
    # decide/windows.Window values: stack operations wait inside them.
    maintenance_windows: tuple = ()
    # The escalation ladder (decide/ladder.py) of stacks without their
    # own selfheal:ladder tag; replace alone by default.
    remediation_ladder: Ladder = DEFAULT_LADDER
    # Remediation steps (any step, replace included) per unit within the
    # window before it is held REMEDIATION_BUDGET; 0: no budget.
    max_remediations_per_unit: int = 6
    remediation_window: float = 3600.0
    # Fencing (stacks tagged selfheal:fence): after the old servers are
    # stopped, this long before their replacement is created (medik8s
    # safeTimeToAssumeNodeRebootedSeconds is 180 s).
    safe_time_to_assume_dead: float = 180.0
    # Pre-replace hook (AWS lifecycle hooks): a Mistral workflow started
    # before any unit is marked; its `result` CONTINUE or ABANDON
    # (HOOK_ABANDONED: held for a cooldown, no breaker). "": none.
    pre_replace_hook: str = ""
    pre_replace_timeout: float = 300.0
    pre_replace_default: str = "CONTINUE"

    def storm_limit(self, group_size: Optional[int]) -> int:
        allowed = self.max_unhealthy.limit(group_size,
                                           self.max_unhealthy_unknown_size)
        return max(allowed, self.min_heal_allowed)

    def in_flight_limit(self, group_size: Optional[int]) -> int:
        allowed = self.max_in_flight.limit(
            group_size, self.max_unhealthy_unknown_size, round_up=True)
        return max(allowed, 1)
