"""Ladder specs: steps and their timeouts, parsed and printed. Imports
nothing of the package, so the policy (decide/policy.py) can hold one."""

from __future__ import annotations

import dataclasses

REBOOT, REBUILD, REPLACE = "reboot", "rebuild", "replace"
STEPS = (REBOOT, REBUILD, REPLACE)
# Seconds a step's effect is given before it is judged.
DEFAULT_TIMEOUTS = {REBOOT: 300.0, REBUILD: 600.0, REPLACE: 0.0}
# Control words of a root stack's tags: fence its units' old servers
# before they are replaced (stateful members).
FENCE = "fence"
SEPARATOR = ">"


@dataclasses.dataclass(frozen=True)
class Step:
    name: str
    timeout: float = 0.0

    def __str__(self) -> str:
        return self.name if self.name == REPLACE else \
            f"{self.name}:{self.timeout:g}"


Ladder = tuple[Step, ...]
DEFAULT_LADDER: Ladder = (Step(REPLACE),)


def parse_ladder(text: str) -> Ladder:
    """`reboot:300>rebuild>replace`; a bad ladder names what is wrong."""
    raw = str(text).strip()
    if not raw:
        raise ValueError("ladder is empty; the smallest is 'replace'")
    steps = []
    for part in raw.split(SEPARATOR):
        name, _, seconds = part.strip().partition(":")
        name = name.strip().lower()
        if name not in STEPS:
            raise ValueError(f"ladder {raw!r}: unknown step {name!r} "
                             f"(known: {', '.join(STEPS)})")
        timeout = DEFAULT_TIMEOUTS[name]
        if seconds.strip():
            try:
                timeout = float(seconds)
            except ValueError:
                raise ValueError(f"ladder {raw!r}: timeout of {name} "
                                 f"{seconds!r} is not a number of "
                                 f"seconds") from None
            if not 0 < timeout < float("inf") or name == REPLACE:
                raise ValueError(f"ladder {raw!r}: {name} takes "
                                 + ("no timeout" if name == REPLACE else
                                    "a timeout > 0"))
        if any(s.name == name for s in steps):
            raise ValueError(f"ladder {raw!r}: {name} appears twice")
        steps.append(Step(name, timeout))
    if steps[-1].name != REPLACE:
        raise ValueError(f"ladder {raw!r} must end with 'replace': a unit "
                         f"the other steps did not heal is replaced")
    return tuple(steps)


def format_ladder(ladder: Ladder) -> str:
    return SEPARATOR.join(str(s) for s in ladder)


def step_of(ladder: Ladder, name: str) -> Step:
    for step in ladder:
        if step.name == name:
            return step
    return Step(name, DEFAULT_TIMEOUTS.get(name, 0.0))
