"""A scenario's `policy:` as the service reads [selfheal_policy].

Each key goes through the option's own oslo type (its bounds and choices),
`opts.check_values` (finite numbers) and `opts.policy_from` (thresholds,
windows, the ladder, execution_timeout against the workflow's waits): the
simulator accepts exactly what a configuration file would. Only the YAML
type is checked here first, because oslo converts leniently ('300' is a
number to it, a string a list of characters).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from oslo_config import cfg

from vitrage_selfheal import opts
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.simulate.fields import ScenarioError

GROUP = "selfheal_policy"


def _yaml_type_problem(opt: cfg.Opt, value: Any, threshold: bool) -> str:
    if isinstance(opt, cfg.BoolOpt):
        return "" if isinstance(value, bool) else "expected true or false"
    if isinstance(value, bool):
        return "expected a number" if isinstance(
            opt, (cfg.IntOpt, cfg.FloatOpt)) else "expected a string"
    if isinstance(opt, cfg.IntOpt):
        return "" if isinstance(value, int) else "expected an integer"
    if isinstance(opt, cfg.FloatOpt):
        return "" if isinstance(value, (int, float)) else \
            "expected a number"
    if isinstance(opt, cfg.MultiStrOpt):
        return "" if isinstance(value, list) and all(
            isinstance(v, str) for v in value) else \
            "expected a list of strings"
    # A share or a count ("50%", 3) for the thresholds.
    ok = (str, int) if threshold else (str,)
    return "" if isinstance(value, ok) else "expected a string"


def build(values: dict, where: str) -> Policy:
    """The Policy of `values`; a bad key names `where`.<key>."""
    by_name = {o.name: o for o in opts.POLICY_OPTS}
    fields = {f.name: f for f in dataclasses.fields(Policy)}
    conf = opts.register(cfg.ConfigOpts())
    conf([], project="vitrage-selfheal", default_config_files=[])
    policy = opts.policy_from(conf)
    for key, value in values.items():
        at = f"{where}.{key}"
        if key not in fields or key not in by_name:
            raise ScenarioError(f"{at}: not a policy option; known: "
                                f"{', '.join(sorted(fields))}")
        problem = _yaml_type_problem(by_name[key], value,
                                     fields[key].type == "Threshold")
        if problem:
            raise ScenarioError(f"{at}: {problem}, got {value!r}")
        try:
            conf.set_override(key, value, group=GROUP)
            opts.check_values(conf)
            policy = opts.policy_from(conf)
        except (ValueError, OverflowError, cfg.Error) as exc:
            text = str(exc).removeprefix(f"[{GROUP}] ")
            raise ScenarioError(f"{at}: {text}") from None
    return policy
