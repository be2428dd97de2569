"""How a group's Heat template tells its bounds and how to resize it."""

from __future__ import annotations

import pytest

from vitrage_selfheal.dispatch.heat_groups import GroupReadError, group_info
from vitrage_selfheal.model import ScaleMethod


def template(**group_props):
    return {"resources": {
        "asg": {"type": "OS::Heat::AutoScalingGroup",
                "properties": {"min_size": 1, "max_size": 5,
                               "resource": {"type": "unit.yaml"},
                               **group_props}},
        "out": {"type": "OS::Heat::ScalingPolicy",
                "properties": {"adjustment_type": "change_in_capacity",
                               "auto_scaling_group_id":
                                   {"get_resource": "asg"},
                               "scaling_adjustment": 1}},
        "in": {"type": "OS::Heat::ScalingPolicy",
               "properties": {"adjustment_type": "change_in_capacity",
                              "auto_scaling_group_id":
                                  {"get_resource": "asg"},
                              "scaling_adjustment": {"get_param": "down"}}},
        "other": {"type": "OS::Heat::ScalingPolicy",
                  "properties": {"adjustment_type": "percent_change_in_"
                                                    "capacity",
                                 "auto_scaling_group_id":
                                     {"get_resource": "asg"},
                                 "scaling_adjustment": 50}},
    }}


def test_a_desired_capacity_parameter_of_the_root_stack_is_capacity():
    info = group_info(template(desired_capacity={"get_param": "n"},
                               max_size={"get_param": "top"}),
                      {"n": "3", "top": "8"}, "asg", 3, in_root_stack=True)
    assert info.method is ScaleMethod.CAPACITY
    assert (info.capacity_parameter, info.min_size, info.max_size,
            info.size) == ("n", 1, 8, 3)


def test_otherwise_its_change_in_capacity_policies_are_signalled():
    info = group_info(template(desired_capacity={"get_param": "n"}),
                      {"n": 3, "down": "-1"}, "asg", 3, in_root_stack=False)
    assert info.method is ScaleMethod.SIGNAL
    assert info.policies == (("in", -1), ("out", 1))


def test_neither_is_unsupported_with_the_reason():
    doc = template(desired_capacity=2)
    del doc["resources"]["out"], doc["resources"]["in"]
    info = group_info(doc, {}, "asg", 2, in_root_stack=True)
    assert info.method is None
    assert "desired_capacity is not a parameter" in info.unsupported


def test_a_resource_group_is_not_resized():
    doc = {"resources": {"rg": {"type": "OS::Heat::ResourceGroup"}}}
    info = group_info(doc, {}, "rg", 2, in_root_stack=True)
    assert info.method is None and "ResourceGroup" in info.unsupported


def test_bad_template_values_name_the_field():
    with pytest.raises(GroupReadError, match="max_size 'many'"):
        group_info(template(max_size="many"), {}, "asg", 1, True)
    with pytest.raises(GroupReadError, match="no resource 'nope'"):
        group_info(template(), {}, "nope", 1, True)
