"""The complete walk of a payload for unresolved template text.

Vitrage hands over a template's raw text (e.g. 'get_attr(stack, id)') when
it promotes a "similar" action on UNDO; such a value must never be healed.
The walk is bounded, since a webhook payload is sized by whoever sends it,
and a payload past the bounds is refused rather than partly scanned: an
unscanned corner could hide exactly that text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Union

TEMPLATE_FUNCTION = re.compile(r"get_attr\s*\(")
# Values (containers and scalars) one payload may hold. A Vitrage alarm
# with its resource has about fifty.
MAX_NODES = 20_000
# Containers within containers; Vitrage's are three deep.
MAX_DEPTH = 32


@dataclasses.dataclass(frozen=True)
class Clean:
    """Every value was looked at; none holds template text."""


@dataclasses.dataclass(frozen=True)
class Found:
    path: str
    value: str


@dataclasses.dataclass(frozen=True)
class TooComplex:
    detail: str


Scanned = Union[Clean, Found, TooComplex]


def find_template_text(root: Any, name: str, max_nodes: int = MAX_NODES,
                       max_depth: int = MAX_DEPTH) -> Scanned:
    """Where the first string holding template text is (a dotted path from
    `name`), Clean if there is none, TooComplex past the bounds."""
    too_many = TooComplex(f"{name} holds more than {max_nodes} values, the "
                          f"most the parser scans")
    stack: list[tuple[str, Any, int]] = [(name, root, 0)]
    seen = 0
    while stack:
        path, value, depth = stack.pop()
        seen += 1
        if isinstance(value, str):
            if TEMPLATE_FUNCTION.search(value):
                return Found(path, value)
            continue
        if not isinstance(value, (Mapping, list, tuple)) or not value:
            continue
        if depth >= max_depth:
            return TooComplex(f"{path} is nested more than {max_depth} "
                              f"levels deep, the most the parser scans")
        # Counted before the paths are built: a container of a million
        # items is refused without a million strings made first.
        if seen + len(stack) + len(value) > max_nodes:
            return too_many
        if isinstance(value, Mapping):
            children = [(f"{path}.{key}", item)
                        for key, item in value.items()]
        else:
            children = [(f"{path}[{index}]", item)
                        for index, item in enumerate(value)]
        # Reversed, so that the walk meets values in the payload's order.
        stack.extend((child, item, depth + 1)
                     for child, item in reversed(children))
    return Clean()
