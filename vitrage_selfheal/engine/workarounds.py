"""Narrow workarounds of Vitrage 15 bugs met by the embedded engine.

Each one changes our input to Vitrage, never Vitrage's code, and keeps
the meaning of what it touches.
"""

from __future__ import annotations

import json
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


# Aodh's alarm notifications whose `detail` Vitrage 15's Aodh driver
# indexes as a dict.
_AODH_DETAILED = frozenset({"alarm.creation", "alarm.state_transition",
                            "alarm.rule_change"})


def aodh_detail_as_object(event_type: str, payload: Any) -> Any:
    """Aodh 23 sends `detail` as JSON text in alarm.state_transition and
    alarm.rule_change (it stores the change record that way), and Vitrage
    15's Aodh driver indexes it as a dict ("string indices must be
    integers"): a firing alarm never reached the graph. Decoded here, it
    is the same change; text that is not a JSON object is left as sent,
    for Vitrage to report."""
    if event_type not in _AODH_DETAILED or not isinstance(payload, dict):
        return payload
    detail = payload.get("detail")
    if not isinstance(detail, str):
        return payload
    try:
        decoded = json.loads(detail)
    except ValueError:
        return payload
    if not isinstance(decoded, dict):
        return payload
    return {**payload, "detail": decoded}
