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


@dataclasses.dataclass(frozen=True)
class PreReplaceHook:
    """A workflow asked CONTINUE or ABANDON before units are marked."""

    workflow: str
    timeout: float
    default: str = "CONTINUE"


# The failure step of a heal its pre-replace hook abandoned.
HOOK_STEP = "pre_replace_hook"


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
        units' servers instead of replacing them), `fence` (seconds:
        stop the old servers, wait that long, then replace) and `hook`
        (a PreReplaceHook to ask first; an ABANDON fails the execution
        with the failure step HOOK_STEP)."""

    def get(self, execution_id: str) -> Execution: ...

    def cancel(self, execution_id: str, reason: str) -> Execution:
        """Ask the executor to stop the execution; its state after that
        (RUNNING until the executor confirms, MISSING if unknown)."""
