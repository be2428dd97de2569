"""The one interface the decision layer sees of an executor of heals."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any, Protocol

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
    """The executor could not be reached, failed, or refused the call.

    Unless `refused`, the outcome is unknown: a start may have been
    created all the same (a timeout after Mistral stored it).
    """

    refused = False


class DispatchRefused(DispatchError):
    """The executor answered 4xx: it did not do what was asked."""

    refused = True


class Dispatcher(Protocol):
    def start(self, execution_id: str, root_stack_id: str,
              units: Sequence[Unit], reason: str) -> Execution:
        """Start, or return the existing execution with this id.

        Two keywords are passed only when they apply, so an executor of
        plain heals need not know them: `scale` (a ScalePlan: resize the
        group, the units marked first) and `trust_id` (start it under the
        stack owner's trust; TrustInvalid if Keystone refuses it), `step`
        (a ladder step other than replace: "reboot" or "rebuild" the
        units' servers instead of replacing them) and `fence` (seconds:
        stop the old servers, wait that long, then replace)."""

    def get(self, execution_id: str) -> Execution: ...

    def cancel(self, execution_id: str, reason: str) -> Execution:
        """Ask the executor to stop the execution; its state after that
        (RUNNING until the executor confirms, MISSING if unknown)."""
