"""What parsing a notification gives: a HealRequest, or one of these."""

from __future__ import annotations

import dataclasses
from typing import Any, Union

from vitrage_selfheal.model import HealRequest, Reason

_MAX_SHOWN = 120


@dataclasses.dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str


@dataclasses.dataclass(frozen=True)
class Ignored:
    detail: str


Parsed = Union[HealRequest, Rejection, Ignored]


def show(value: Any) -> str:
    """repr, shortened: details are persisted and logged."""
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        return text[:_MAX_SHOWN - 3] + "..."
    return text
