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

import dataclasses
from collections.abc import Mapping
from typing import Any, Union

from vitrage_selfheal.ingest.results import Ignored, Rejection, show
from vitrage_selfheal.ingest.scale_links import ScaleLink
from vitrage_selfheal.model import Reason, ScaleRequest

SOURCE = "aodh"
_ALARM = "alarm"


@dataclasses.dataclass(frozen=True)
class FiringAlarm:
    """The alarm an Aodh alarm action is about, in state `alarm`."""

    alarm_id: str
    name: str
    reason: str = ""


def firing_alarm(body: Mapping[str, Any], where: str, nothing_to: str
                 ) -> Union[FiringAlarm, Rejection, Ignored]:
    """The firing alarm of an action body (already known to be an object);
    Ignored for any other state (`nothing_to` says what is not done), a
    MALFORMED Rejection naming what is missing (`where` says whose)."""
    alarm_id, current = body.get("alarm_id"), body.get("current")
    if not isinstance(alarm_id, str) or not alarm_id.strip():
        return Rejection(Reason.MALFORMED,
                         f"{where}: no alarm_id in {show(dict(body))}")
    name = body.get("alarm_name")
    name = name if isinstance(name, str) and name.strip() else alarm_id
    if not isinstance(current, str):
        return Rejection(Reason.MALFORMED,
                         f"Aodh alarm {name!r}: no state 'current' (got "
                         f"{show(current)})")
    if current != _ALARM:
        return Ignored(f"Aodh alarm {name!r} is {current!r}, not "
                       f"{_ALARM!r}: nothing to {nothing_to}")
    reason = body.get("reason")
    return FiringAlarm(alarm_id, name,
                       reason if isinstance(reason, str) else "")


def parse_action(document: Any, link: ScaleLink
                 ) -> Union[ScaleRequest, Rejection, Ignored]:
    if not isinstance(document, dict):
        return Rejection(Reason.MALFORMED,
                         f"Aodh alarm action: body is not an object: "
                         f"{show(document)}")
    alarm = firing_alarm(document, "Aodh alarm action",
                         f"scale ({link.describe()})")
    if not isinstance(alarm, FiringAlarm):
        return alarm
    why = f": {alarm.reason}" if alarm.reason else ""
    return ScaleRequest(group=link.group, delta=link.delta, source=SOURCE,
                        alarm_key=f"aodh:{alarm.alarm_id}",
                        detail=f"Aodh alarm {alarm.name!r}{why}"[:500])
