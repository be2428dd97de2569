"""A simulated group member and the time stamps the simulated services
write."""

from __future__ import annotations

import dataclasses
import datetime

from vitrage_selfheal.model import Unit


def stamp(epoch: float, zulu: bool = True) -> str:
    text = datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text + "Z" if zulu else text


@dataclasses.dataclass
class SimUnit:
    root: str
    group_stack: str
    group_name: str
    name: str
    servers: list[str]
    state: str
    generation: int = 0
    state_reason: str = ""
    # Scenario members are older than anything a scale-out creates.
    born: float = 0.0

    def as_unit(self, group_size: int) -> Unit:
        return Unit(root_stack_id=self.root, stack_id=self.group_stack,
                    resource_name=self.name,
                    physical_id=self.physical_id, group=self.group_stack,
                    group_size=group_size)

    @property
    def physical_id(self) -> str:
        return f"{self.group_stack}-{self.name}-g{self.generation}"
