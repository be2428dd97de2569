"""Per-stack settings: a root stack's Heat tag `selfheal:<option>=<value>`
overrides the global `[selfheal_policy]` option for its units, e.g.
`selfheal:unit_grace=600` for a slow-booting database, or
`selfheal:max_remediations_per_unit=2`, and `selfheal:ladder=<ladder>`
for `remediation_ladder` (decide/steps.py). Only the options below are
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
from collections.abc import Callable
from typing import Any, Optional

from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.steps import parse_ladder

LOG = logging.getLogger(__name__)


def _number(kind: type, minimum: float) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or not value >= minimum or value == float("inf"):
            raise ValueError(f"{raw!r} is not a {kind.__name__} >= "
                             f"{minimum:g}")
        return value
    return parse


# tag word -> (Policy field, parser raising ValueError with the reason)
PER_STACK: dict[str, tuple[str, Callable[[str], Any]]] = {
    "unit_grace": ("unit_grace", _number(float, 0.0)),
    "startup_timeout": ("startup_timeout", _number(float, 0.0)),
    "cooldown": ("cooldown", _number(float, 0.0)),
    "flap_max_heals": ("flap_max_heals", _number(int, 1)),
    "flap_window": ("flap_window", _number(float, 1.0)),
    "max_remediations_per_unit": ("max_remediations_per_unit",
                                  _number(int, 0)),
    "remediation_window": ("remediation_window", _number(float, 1.0)),
    "safe_time_to_assume_dead": ("safe_time_to_assume_dead",
                                 _number(float, 0.0)),
    "ladder": ("remediation_ladder", parse_ladder),
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
        field, parse = PER_STACK[name]
        try:
            value = parse(raw)
        except ValueError as exc:
            LOG.warning("tag selfheal:%s ignored (%s); [selfheal_policy] "
                        "%s applies", word, exc, field)
            continue
        values[field] = value
    return dataclasses.replace(policy, **values) if values else policy
