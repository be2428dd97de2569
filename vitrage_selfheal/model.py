"""Value types that travel from ingest to track.

A *unit* is the member of a Heat scaling/resource group that gets replaced.
It is identified by the stack that owns the resource (the group's nested
stack) and the resource name in that stack; the root stack is the one a
stack update is issued on.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Optional

UNIT_ID_SEPARATOR = "/"


class Intent(str, enum.Enum):
    """What a request asks of the decision layer."""

    HEAL = "heal"
    # A root cause below the unit (switch, network) makes replacing it useless.
    SUPPRESS = "suppress"
    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"


@dataclasses.dataclass(frozen=True)
class Unit:
    root_stack_id: str
    stack_id: str
    resource_name: str
    physical_id: Optional[str] = None
    group: Optional[str] = None
    group_size: Optional[int] = None

    @property
    def key(self) -> str:
        """Stable across replacement: Heat keeps the member's name."""
        return f"{self.stack_id}{UNIT_ID_SEPARATOR}{self.resource_name}"

    @property
    def group_key(self) -> str:
        return self.group or self.stack_id

    @property
    def vertex_id(self) -> str:
        """The `id` of the unit vertex; survives webhook filtering."""
        return UNIT_ID_SEPARATOR.join(
            (self.root_stack_id, self.stack_id, self.resource_name))

    @classmethod
    def from_vertex_id(cls, vertex_id: str, **extra) -> Unit:
        parts = vertex_id.split(UNIT_ID_SEPARATOR, 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"unit id {vertex_id!r} is not "
                f"'<root_stack_id>/<stack_id>/<resource_name>'")
        return cls(root_stack_id=parts[0], stack_id=parts[1],
                   resource_name=parts[2], **extra)


@dataclasses.dataclass(frozen=True)
class HealRequest:
    """One alarm activation or clearance on a unit, as the plugin saw it."""

    unit: Unit
    alarm_key: str
    alarm_name: str
    intent: Intent = Intent.HEAL
    active: bool = True
    source: str = "vitrage"
    detail: str = ""
    # Causal chain as Vitrage reported it (root cause first), for the ledger.
    causes: tuple[str, ...] = ()
