"""Field names of heat.unit events and vertices, and the heal states."""

from __future__ import annotations

from vitrage_selfheal.model import Unit


class UnitProps:
    """Keys of a driver event; all but SERVER_IDS become vertex properties."""

    ROOT_STACK_ID = "root_stack_id"
    STACK_ID = "stack_id"
    RESOURCE_NAME = "resource_name"
    RESOURCE_TYPE = "resource_type"
    PHYSICAL_ID = "physical_id"
    GROUP = "group"
    GROUP_NAME = "group_name"
    GROUP_SIZE = "group_size"
    STATE = "state"
    STATE_REASON = "state_reason"
    SERVER_IDS = "server_ids"
    PROJECT_ID = "project_id"
    NAME = "name"
    HEAL_STATE = "heal_state"
    CONTROLS = "selfheal_controls"


# Copied onto the vertex as they are (id, state, name and project_id are
# set through Vitrage's own vertex fields).
VERTEX_METADATA = (
    UnitProps.ROOT_STACK_ID,
    UnitProps.STACK_ID,
    UnitProps.RESOURCE_NAME,
    UnitProps.RESOURCE_TYPE,
    UnitProps.PHYSICAL_ID,
    UnitProps.GROUP,
    UnitProps.GROUP_NAME,
    UnitProps.GROUP_SIZE,
    UnitProps.STATE_REASON,
    UnitProps.HEAL_STATE,
    UnitProps.CONTROLS,
)


class HealState:
    """Values of the heal_state property, read from the selfheal ledger."""

    NONE = ""
    HEALING = "HEALING"
    HEALED = "HEALED"
    HELD_PREFIX = "HELD:"

    @classmethod
    def held(cls, reason: str) -> str:
        return f"{cls.HELD_PREFIX}{reason}"


class HeatTypes:
    SERVER = "OS::Nova::Server"
    # Resources that own a nested stack even when Heat's listing carries
    # no "nested" link (older APIs, fakes); template resources are
    # recognised by their file name.
    NESTED = frozenset({
        "OS::Heat::Stack",
        "OS::Heat::AutoScalingGroup",
        "OS::Heat::ResourceGroup",
        "OS::Heat::InstanceGroup",
        "AWS::AutoScaling::AutoScalingGroup",
        "AWS::CloudFormation::Stack",
    })
    TEMPLATE_SUFFIXES = (".yaml", ".yml", ".template", ".json")


def unit_id(event: dict) -> str:
    """The unit vertex's `id`: `<root_stack_id>/<stack_id>/<resource_name>`."""
    return Unit(event[UnitProps.ROOT_STACK_ID], event[UnitProps.STACK_ID],
                event[UnitProps.RESOURCE_NAME]).vertex_id
