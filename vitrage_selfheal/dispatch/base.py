"""The one interface the decision layer sees of an executor of heals."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any, Optional, Protocol

from vitrage_selfheal.model import Unit


class ExecState(str, enum.Enum):
    RUNNING = "RUNNING"      # also Mistral's IDLE and PAUSED
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"          # also CANCELLED
    MISSING = "MISSING"      # the executor does not know this id


@dataclasses.dataclass(frozen=True)
class Execution:
    id: str
    state: ExecState
    # The workflow's structured `result` (SUCCESS) or `failure` (ERROR).
    output: dict[str, Any] = dataclasses.field(default_factory=dict)
    state_info: str = ""


class DispatchError(Exception):
    """The executor could not be reached or refused the start."""


class Dispatcher(Protocol):
    def start(self, execution_id: str, root_stack_id: str,
              units: Sequence[Unit], reason: str) -> Execution:
        """Start, or return the existing execution with this id."""

    def get(self, execution_id: str) -> Execution: ...


class StackStatus(Protocol):
    def status(self, root_stack_id: str) -> Optional[str]:
        """Heat's stack_status (e.g. UPDATE_IN_PROGRESS), None if unknown."""
