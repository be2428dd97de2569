"""A Zaqar message from Aodh's alarm action -> the server it is about, and
then (once the server's unit is known) a HealRequest.

Pure, like ingest/parse.py and ingest/aodh.py: nothing here logs, counts or
raises on bad input. Two steps because between them the consumer asks Heat
(through the resolver) which unit owns the server, and that can fail or be
postponed for reasons that are not the message's fault.

Body (aodh.notifier.zaqar, the same as the REST notifier's): `alarm_name`,
`alarm_id`, `severity`, `previous`, `current`, `reason`, `reason_data`;
for an event alarm `reason_data` is `{"type": "event", "event":
{"event_type", "generated", "traits": [[name, type, value], ...]}}`.

Intent: every message on a heal queue asks for a heal. The SIG's alarms
have operator-chosen names (not `selfheal.heal...`), and the queue an alarm
action names is already the operator's choice of what it means; a queue
for something else is simply not listed in `[selfheal_zaqar] queues`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Optional, Union

from vitrage_selfheal import limits
from vitrage_selfheal.ingest import aodh, timestamps
from vitrage_selfheal.ingest.parse import bounded_alarm_key
from vitrage_selfheal.ingest.results import Ignored, Parsed, Rejection, show
from vitrage_selfheal.model import HealRequest, Intent, Reason, Unit

__all__ = ["SOURCE", "SERVER_TRAITS", "ServerAlarm", "heal_request",
           "read_body", "unknown_unit"]

SOURCE = "zaqar"
# Traits naming the server, in order of preference: the SIG's workflow
# takes `instance_id`; Nova's versioned notifications also carry it as
# `resource_id`.
SERVER_TRAITS = ("instance_id", "resource_id")
_MAX_DETAIL = 500


@dataclasses.dataclass(frozen=True)
class ServerAlarm:
    """An Aodh alarm in state `alarm` about one Nova server."""

    alarm_id: str
    alarm_name: str
    server_id: str
    event_type: str = ""
    reason: str = ""
    # Aodh's event `generated` time (epoch seconds), None if absent or
    # unreadable: orders a redelivered message against a heal.
    event_time: Optional[float] = None

    def describe(self) -> str:
        on = f" ({self.event_type})" if self.event_type else ""
        return (f"Aodh alarm {self.alarm_name!r}{on} on server "
                f"{self.server_id}")


def read_body(body: Any) -> Union[ServerAlarm, Rejection, Ignored]:
    """The server alarm in a message body; Ignored for `ok` and
    `insufficient data`; a MALFORMED Rejection naming what is wrong."""
    if isinstance(body, str):
        # Some senders post the alarm body JSON-encoded a second time.
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return Rejection(Reason.MALFORMED,
                             f"Zaqar message body is text that is not "
                             f"JSON: {show(body)}")
    if not isinstance(body, Mapping):
        return Rejection(Reason.MALFORMED,
                         f"Zaqar message body is {type(body).__name__}, not "
                         f"an Aodh alarm object: {show(body)}")
    alarm = aodh.firing_alarm(body, "Aodh alarm action in Zaqar", "heal")
    if not isinstance(alarm, aodh.FiringAlarm):
        return alarm
    alarm_id, name, reason = alarm.alarm_id, alarm.name, alarm.reason
    data = body.get("reason_data")
    if not isinstance(data, Mapping):
        return Rejection(Reason.MALFORMED,
                         f"Aodh alarm {name!r}: reason_data is "
                         f"{show(data)}, not an object naming the event")
    event = data.get("event")
    if data.get("type") != "event" or not isinstance(event, Mapping):
        return Rejection(Reason.MALFORMED,
                         f"Aodh alarm {name!r}: reason_data is not an "
                         f"event alarm's (type {show(data.get('type'))}): "
                         f"no server to heal")
    traits = _traits(event.get("traits"))
    if traits is None:
        return Rejection(Reason.MALFORMED,
                         f"Aodh alarm {name!r}: event traits "
                         f"{show(event.get('traits'))} are neither "
                         f"[[name, type, value], ...] nor an object")
    server = next((traits[t] for t in SERVER_TRAITS
                   if isinstance(traits.get(t), str) and traits[t].strip()),
                  None)
    if server is None:
        return Rejection(Reason.MALFORMED,
                         f"Aodh alarm {name!r}: its event has no "
                         f"{' or '.join(SERVER_TRAITS)} trait (traits: "
                         f"{show(sorted(traits))})")
    event_type = event.get("event_type")
    return ServerAlarm(
        alarm_id=alarm_id, alarm_name=name, server_id=server.strip(),
        event_type=event_type if isinstance(event_type, str) else "",
        reason=reason, event_time=timestamps.epoch_of(event.get("generated")))


def heal_request(alarm: ServerAlarm, unit: Unit) -> Parsed:
    """The heal of `unit` the alarm asks for, or why it cannot be stored.

    The key is the alarm, the server and the unit: Aodh's repeats (and a
    message redelivered after a failed ack) are one alarm, DUPLICATE. The
    server is in it because an event alarm never goes back to `ok` on its
    own: without it, the same alarm firing for the unit's replacement
    server would be a DUPLICATE of the fault that replaced it, forever.
    The old server's alarm is answered by the heal (its raise is before
    the heal's success), so it never heals the replacement.
    """
    why = f": {alarm.reason}" if alarm.reason else ""
    request = HealRequest(
        unit=unit,
        alarm_key=bounded_alarm_key(
            f"{SOURCE}:{alarm.alarm_id}:{alarm.server_id}@{unit.vertex_id}"),
        alarm_name=alarm.alarm_name, intent=Intent.HEAL, active=True,
        source=SOURCE, detail=f"{alarm.describe()}{why}"[:_MAX_DETAIL],
        event_time=alarm.event_time)
    problem = limits.request_problem(request)
    if problem is None:
        return request
    return Rejection(Reason.INVALID_FIELD, f"{alarm.describe()}: {problem}")


def unknown_unit(alarm: ServerAlarm, detail: str) -> Rejection:
    return Rejection(Reason.UNKNOWN_UNIT,
                     f"{alarm.describe()}: {detail}"[:_MAX_DETAIL])


def _traits(raw: Any) -> Optional[dict[str, Any]]:
    """Trait name -> value from Aodh's list of [name, type, value] (or of
    {"name", "value"} objects, or a plain object); None if unreadable."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): v for k, v in raw.items()}
    if not isinstance(raw, list):
        return None
    found: dict[str, Any] = {}
    for trait in raw:
        if isinstance(trait, (list, tuple)) and len(trait) == 3 and \
                isinstance(trait[0], str):
            found.setdefault(trait[0], trait[2])
        elif isinstance(trait, Mapping) and isinstance(trait.get("name"),
                                                       str):
            found.setdefault(trait["name"], trait.get("value"))
        else:
            return None
    return found
