"""Heat's view of a scaling group: its size, bounds and how to resize it.

Read through an openstacksdk Connection's orchestration adapter (raw GETs:
openstacksdk has no call for a stack's template plus its parameters as
Heat resolved them). The mapping from template to GroupInfo is a pure
function, `group_info`, tested without Heat.

How a group is resized:
- CAPACITY when the group sits in the root stack and its
  `desired_capacity` is `{get_param: P}`: a PATCH update of the root stack
  with a new P. Queued heals ride along in that one update.
- SIGNAL when OS::Heat::ScalingPolicy resources of the stack name the
  group (`auto_scaling_group_id: {get_resource: <group>}`) with
  `adjustment_type: change_in_capacity`: one signal per operation.
- neither: SCALE_UNSUPPORTED, with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Optional

from vitrage_selfheal.model import GroupInfo, GroupRef, ScaleMethod

GROUP_TYPES = ("OS::Heat::AutoScalingGroup",)
POLICY_TYPE = "OS::Heat::ScalingPolicy"


class GroupReadError(Exception):
    """Heat's answer does not describe the group."""


def _value(prop: Any, parameters: Mapping[str, Any]) -> tuple[Any,
                                                                Optional[str]]:
    """A property's value, and the parameter it comes from if any."""
    if isinstance(prop, Mapping) and set(prop) == {"get_param"}:
        name = prop["get_param"]
        if isinstance(name, list):
            name = name[0] if name else None
        if not isinstance(name, str):
            return None, None
        return parameters.get(name), name
    return prop, None


def _int(value: Any, what: str) -> Optional[int]:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise GroupReadError(f"{what} {value!r} is not a number") from None


def group_info(template: Mapping[str, Any], parameters: Mapping[str, Any],
               resource_name: str, size: int,
               in_root_stack: bool) -> GroupInfo:
    resources = template.get("resources") or {}
    group = resources.get(resource_name)
    if not isinstance(group, Mapping):
        raise GroupReadError(f"no resource {resource_name!r} in the "
                             f"template of the group's stack")
    if group.get("type") not in GROUP_TYPES:
        return GroupInfo(size=size, min_size=0, max_size=None,
                         unsupported=f"{resource_name} is a "
                                     f"{group.get('type')}, not an "
                                     f"AutoScalingGroup")
    props = group.get("properties") or {}
    min_size = _int(_value(props.get("min_size"), parameters)[0],
                    "min_size") or 0
    max_size = _int(_value(props.get("max_size"), parameters)[0],
                    "max_size")
    _, capacity_param = _value(props.get("desired_capacity"), parameters)
    if capacity_param is not None and in_root_stack:
        return GroupInfo(size=size, min_size=min_size, max_size=max_size,
                         method=ScaleMethod.CAPACITY,
                         capacity_parameter=capacity_param)
    policies = []
    for name, res in sorted(resources.items()):
        if not isinstance(res, Mapping) or res.get("type") != POLICY_TYPE:
            continue
        p = res.get("properties") or {}
        target = p.get("auto_scaling_group_id")
        if not (isinstance(target, Mapping)
                and target.get("get_resource") == resource_name):
            continue
        if _value(p.get("adjustment_type"), parameters)[0] != \
                "change_in_capacity":
            continue
        adjustment = _int(_value(p.get("scaling_adjustment"),
                                 parameters)[0], f"{name} scaling_adjustment")
        if adjustment:
            policies.append((name, adjustment))
    if policies:
        return GroupInfo(size=size, min_size=min_size, max_size=max_size,
                         method=ScaleMethod.SIGNAL,
                         policies=tuple(policies))
    why = ("desired_capacity is not a parameter of the root stack"
           if capacity_param is None or not in_root_stack else "")
    return GroupInfo(size=size, min_size=min_size, max_size=max_size,
                     unsupported=f"{resource_name}: {why or 'no way'} and no "
                                 f"change_in_capacity ScalingPolicy names it")


class HeatGroups:
    """GroupReader over openstacksdk's orchestration adapter."""

    def __init__(self, conn: Any) -> None:
        self._heat = conn.orchestration

    def _get(self, path: str) -> dict:
        answer = self._heat.get(path, raise_exc=False)
        if answer.status_code != 200:
            raise GroupReadError(f"GET {path}: HTTP {answer.status_code}")
        try:
            doc = answer.json()
        except ValueError:
            raise GroupReadError(f"GET {path}: not JSON") from None
        if not isinstance(doc, dict):
            raise GroupReadError(f"GET {path}: not an object")
        return doc

    def __call__(self, ref: GroupRef) -> Optional[GroupInfo]:
        nested = self._get(f"/stacks/{ref.group_stack_id}").get("stack", {})
        parent = ref.parent_stack_id or nested.get("parent")
        if not parent:
            raise GroupReadError(f"stack {ref.group_stack_id} has no parent:"
                                 f" not a group's nested stack")
        name = ref.resource_name or self._group_resource(parent,
                                                         ref.group_stack_id)
        members = self._get(f"/stacks/{ref.group_stack_id}/resources"
                            ).get("resources", [])
        stack = self._get(f"/stacks/{parent}").get("stack", {})
        template = self._get(f"/stacks/{parent}/template")
        info = group_info(template, stack.get("parameters") or {}, name,
                          len(members), parent == ref.root_stack_id)
        return dataclasses.replace(info, parent_stack_id=parent,
                                   resource_name=name)

    def _group_resource(self, parent: str, nested_id: str) -> str:
        for res in self._get(f"/stacks/{parent}/resources").get(
                "resources", []):
            if res.get("physical_resource_id") == nested_id:
                return res["resource_name"]
        raise GroupReadError(f"no resource of stack {parent} owns the "
                             f"nested stack {nested_id}")
