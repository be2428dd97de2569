"""Aodh alarm actions: what Aodh's REST notifier POSTs to a scale link.

Body (aodh.notifier.rest): `alarm_name`, `alarm_id`, `severity`,
`previous`, `current`, `reason`, `reason_data`. Only the state `alarm`
asks for the link's step; `ok` and `insufficient data` are ignored, since
scaling back is the other alarm's job. With `repeat_actions` Aodh posts on
every evaluation while the alarm holds: each repeat joins the group's open
request or meets the scaling cooldown, and one lost to an outage is asked
again.
"""

from __future__ import annotations

from typing import Any, Union

from vitrage_selfheal.ingest.results import Ignored, Rejection, show
from vitrage_selfheal.ingest.scale_links import ScaleLink
from vitrage_selfheal.model import Reason, ScaleRequest

SOURCE = "aodh"
_ALARM = "alarm"


def parse_action(document: Any, link: ScaleLink
                 ) -> Union[ScaleRequest, Rejection, Ignored]:
    if not isinstance(document, dict):
        return Rejection(Reason.MALFORMED,
                         f"Aodh alarm action: body is not an object: "
                         f"{show(document)}")
    alarm_id, current = document.get("alarm_id"), document.get("current")
    if not isinstance(alarm_id, str) or not alarm_id:
        return Rejection(Reason.MALFORMED,
                         f"Aodh alarm action: no alarm_id in "
                         f"{show(document)}")
    if not isinstance(current, str):
        return Rejection(Reason.MALFORMED,
                         f"Aodh alarm action of {alarm_id}: no state "
                         f"'current' in {show(document)}")
    name = document.get("alarm_name")
    name = name if isinstance(name, str) and name else alarm_id
    if current != _ALARM:
        return Ignored(f"Aodh alarm {name!r} is {current!r}, not "
                       f"{_ALARM!r}: nothing to scale ({link.describe()})")
    reason = document.get("reason")
    why = f": {reason}" if isinstance(reason, str) and reason else ""
    return ScaleRequest(group=link.group, delta=link.delta, source=SOURCE,
                        alarm_key=f"aodh:{alarm_id}",
                        detail=f"Aodh alarm {name!r}{why}"[:500])
