"""Narrow workarounds of Vitrage 15 bugs met by the embedded engine.

Each one changes our input to Vitrage, never Vitrage's code, and keeps
the meaning of what it touches.
"""

from __future__ import annotations

from typing import Any


def with_microseconds(action: Any) -> Any:
    """Vitrage 15's ActionExecutor stamps actions with
    `str(utcnow())`, which Python writes without '.%f' when the
    microsecond is 0, and its EvaluatorEventTransformer parses that stamp
    with '%Y-%m-%d %H:%M:%S.%f': about one action in a million failed
    ("does not match format"). Written out in full here, the value is the
    same instant."""
    from vitrage.common.constants import VertexProperties as VProps

    if isinstance(action, dict):
        stamp = action.get(VProps.UPDATE_TIMESTAMP)
        if isinstance(stamp, str) and len(stamp) == 19 and "." not in stamp:
            action[VProps.UPDATE_TIMESTAMP] = stamp + ".000000"
    return action
