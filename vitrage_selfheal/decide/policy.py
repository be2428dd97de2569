"""The knobs of the decision layer, as plain values (no oslo.config here)."""

from __future__ import annotations

import dataclasses
import math
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Threshold:
    """`max_unhealthy`: a percentage of the group ("50%") or a count ("3")."""

    value: float
    percent: bool

    @classmethod
    def parse(cls, text: str) -> Threshold:
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
                f"max_unhealthy {text!r} must be a percentage in (0, 100] "
                f"such as '50%' or a positive count such as '3'") from None

    def limit(self, group_size: Optional[int],
              unknown_size_limit: int) -> int:
        """How many unhealthy units the group tolerates before a storm."""
        if not self.percent:
            return int(self.value)
        if not group_size:
            return unknown_size_limit
        return math.floor(group_size * self.value / 100.0)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else str(int(self.value))


@dataclasses.dataclass(frozen=True)
class Policy:
    cooldown: float = 300.0
    flap_max_heals: int = 3
    flap_window: float = 3600.0
    max_unhealthy: Threshold = Threshold(50.0, True)
    # A percentage needs the group size; without it, tolerate this many.
    max_unhealthy_unknown_size: int = 2
    coalesce_window: float = 2.0
    max_dispatches_per_minute: int = 30
    max_attempts: int = 3
    retry_backoff: float = 30.0
    execution_timeout: float = 1800.0
