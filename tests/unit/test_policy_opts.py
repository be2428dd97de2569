"""One source of truth for the knobs: Policy's defaults, the options', the
workflow's, and execution_timeout derived from the workflow's waits."""

from __future__ import annotations

import dataclasses

import pytest
from oslo_config import cfg

from vitrage_selfheal import opts, workflows
from vitrage_selfheal.decide.policy import Policy


def conf(**policy):
    c = opts.register(cfg.ConfigOpts())
    c([], project="vitrage-selfheal", default_config_files=[])
    for key, value in policy.items():
        group, name = key.split("__")
        c.set_override(name, value, group=group)
    return c


def test_default_options_give_the_default_policy():
    assert opts.policy_from(conf()) == Policy()


def test_every_policy_field_has_an_option():
    names = {o.name for o in opts.POLICY_OPTS}
    assert {f.name for f in dataclasses.fields(Policy)} == names


def test_workflow_tunables_default_to_the_workflow_and_are_passed():
    c = conf(mistral__max_polls=12)
    wf = workflows.input_defaults()
    assert opts.workflow_input(c) == {
        "poll_delay": wf["poll_delay"], "max_polls": 12,
        "conflict_delay": wf["conflict_delay"],
        "conflict_retries": wf["conflict_retries"]}


def test_execution_timeout_is_derived_from_the_workflow_waits():
    wf = workflows.input_defaults()
    waits = workflows.heal_worst_case(
        **{k: wf[k] for k in workflows.HEAL_TUNABLES})
    assert waits == 1800
    # Plus fencing's stop wait and safe time, which come first.
    assert opts.policy_from(conf()).execution_timeout == \
        waits * 1.25 + 120 + 180
    short = conf(mistral__max_polls=10, mistral__conflict_retries=1,
                 selfheal_policy__safe_time_to_assume_dead=0)
    assert opts.policy_from(short).execution_timeout == \
        (50 + 30) * 1.25 + 120
    hooked = conf(selfheal_policy__pre_replace_hook="app.drain")
    assert opts.policy_from(hooked).execution_timeout == \
        waits * 1.25 + 120 + 180 + 300


def test_execution_timeout_below_the_workflow_waits_is_refused():
    with pytest.raises(cfg.Error, match="shorter than the heal workflow"):
        opts.policy_from(conf(selfheal_policy__execution_timeout=600))
    with pytest.raises(cfg.Error, match="pre-replace hook"):
        opts.policy_from(conf(selfheal_policy__execution_timeout=1900))
    ok = conf(selfheal_policy__execution_timeout=4000)
    assert opts.policy_from(ok).execution_timeout == 4000


def test_bad_max_in_flight_names_the_option():
    with pytest.raises(cfg.Error, match="max_in_flight"):
        opts.policy_from(conf(selfheal_policy__max_in_flight="none"))
