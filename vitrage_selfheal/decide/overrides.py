"""Per-stack settings: a root stack's Heat tag `selfheal:<option>=<value>`
overrides the global `[selfheal_policy]` option for its units, e.g.
`selfheal:unit_grace=600` for a slow-booting database, or
`selfheal:max_remediations_per_unit=2`. Only the options below are
per-stack; the others are about the whole service (rates, storms across
stacks, windows).

Tags reach the unit through the heat.unit datasource (`selfheal_controls`);
a value that is not a number, or out of its range, is logged once and the
global value applies.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Optional

from vitrage_selfheal.decide.policy import Policy

LOG = logging.getLogger(__name__)

# option -> (type, minimum)
PER_STACK: dict[str, tuple[type, float]] = {
    "unit_grace": (float, 0.0),
    "startup_timeout": (float, 0.0),
    "cooldown": (float, 0.0),
    "flap_max_heals": (int, 1),
    "flap_window": (float, 1.0),
    "max_remediations_per_unit": (int, 0),
    "remediation_window": (float, 1.0),
    "safe_time_to_assume_dead": (float, 0.0),
}


def policy_for(policy: Policy, controls: Optional[str]) -> Policy:
    """`policy` with the stack's own values (its control words)."""
    if not controls or "=" not in controls:
        return policy
    return _overridden(policy, controls)


@functools.lru_cache(maxsize=4096)
def _overridden(policy: Policy, controls: str) -> Policy:
    values = {}
    for word in controls.split(","):
        name, sep, raw = word.partition("=")
        if not sep or name not in PER_STACK:
            continue
        kind, minimum = PER_STACK[name]
        try:
            value = kind(raw)
            if not value >= minimum or value == float("inf"):
                raise ValueError
        except ValueError:
            LOG.warning("tag selfheal:%s ignored: %r is not a %s >= %g; "
                        "[selfheal_policy] %s = %s applies", word, raw,
                        kind.__name__, minimum, name, getattr(policy, name))
            continue
        values[name] = value
    return dataclasses.replace(policy, **values) if values else policy
