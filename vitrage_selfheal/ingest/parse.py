"""Raw Vitrage notifications -> a HealRequest, a named Rejection, or Ignored.

Pure functions: nothing here logs, counts or raises on bad input, so the
same rules apply to the in-process notifier plugin and the webhook receiver.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Optional

from vitrage_selfheal import limits
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest import scan, timestamps
from vitrage_selfheal.ingest.results import Ignored, Parsed, Rejection, show
from vitrage_selfheal.ingest.units import unit_from_fields
from vitrage_selfheal.model import HealRequest, Intent, Reason, Unit

__all__ = ["Ignored", "Parsed", "Patterns", "Rejection", "as_dict",
           "bounded_alarm_key",
           "duplicates_deduced_event", "parse_external_action",
           "parse_graph_event", "patterns"]

# Event type -> whether it reports the alarm becoming active.
ALARM_EVENTS = {
    "vitrage.deduced_alarm.activate": True,
    "vitrage.deduced_alarm.deactivate": False,
    "vitrage.alarm.activate": True,
    "vitrage.alarm.deactivate": False,
}
EXECUTE_EXTERNAL_ACTION = "vitrage.execute_external_action"
# Types Vitrage 15 emits that carry nothing for us: ignored, not rejected,
# so that a notifier fed the whole graph topic does not flood the ledger.
OTHER_VITRAGE_EVENTS = frozenset({
    "vitrage.mark_down.activate",
    "vitrage.mark_down.deactivate",
    "vitrage.alarm.change",
    "vitrage.alarm.change_project_id",
    "vitrage.causal_relationship.activate",
    "vitrage.causal_relationship.deactivate",
})
# vitrage_type of the alarms Vitrage's evaluator raises (deduced alarms).
DEDUCED_ALARM_TYPE = "vitrage"



@dataclasses.dataclass(frozen=True)
class Patterns:
    """The compiled `selfheal_ingest` options."""

    heal: re.Pattern[str]
    suppress: re.Pattern[str]
    scale_out: re.Pattern[str]
    scale_in: re.Pattern[str]
    workflows: frozenset[str]
    unit_type: str

    def intent_of(self, alarm_name: str) -> Optional[Intent]:
        # Suppress first: if an operator's patterns overlap, holding a unit
        # is the safe reading; healing it could replace a good unit.
        for pattern, intent in ((self.suppress, Intent.SUPPRESS),
                                (self.heal, Intent.HEAL),
                                (self.scale_out, Intent.SCALE_OUT),
                                (self.scale_in, Intent.SCALE_IN)):
            if pattern.search(alarm_name):
                return intent
        return None


def patterns(conf: Any) -> Patterns:
    """Compile the options; raises ValueError on a bad regex.

    Callers that run for a long time call it once at start so that a typo
    in the configuration fails loudly there, not on the first alarm.
    """
    group = conf[ingest_opts.INGEST_GROUP]
    return _compile(group.heal_alarm_pattern, group.suppress_alarm_pattern,
                    group.scale_out_alarm_pattern,
                    group.scale_in_alarm_pattern,
                    tuple(group.workflow_names or ()),
                    group.unit_vitrage_type)


@functools.lru_cache(maxsize=16)
def _compile(heal: str, suppress: str, scale_out: str, scale_in: str,
             workflows: tuple[str, ...], unit_type: str) -> Patterns:
    compiled = {}
    for option, text in (("heal_alarm_pattern", heal),
                         ("suppress_alarm_pattern", suppress),
                         ("scale_out_alarm_pattern", scale_out),
                         ("scale_in_alarm_pattern", scale_in)):
        try:
            compiled[option] = re.compile(text)
        except re.error as exc:
            raise ValueError(
                f"[{ingest_opts.INGEST_GROUP}] {option} {text!r} is not a "
                f"valid regular expression: {exc}") from exc
    return Patterns(compiled["heal_alarm_pattern"],
                    compiled["suppress_alarm_pattern"],
                    compiled["scale_out_alarm_pattern"],
                    compiled["scale_in_alarm_pattern"],
                    frozenset(workflows), unit_type)


def as_dict(value: Any) -> Optional[dict[str, Any]]:
    """A mapping, or a graph Vertex, as a plain dict; None otherwise.

    With oslo.messaging's in-memory transport the `resource` of an alarm
    event arrives as Vitrage's Vertex object, not as the dict a real bus
    delivers after JSON encoding.
    """
    if isinstance(value, Mapping):
        return dict(value)
    properties = getattr(value, "properties", None)
    if isinstance(properties, Mapping):
        return dict(properties)
    return None


def _not_an_object(what: str, value: Any) -> Rejection:
    return Rejection(Reason.MALFORMED,
                     f"{what} is {type(value).__name__}, not an object")


def duplicates_deduced_event(event_type: str, payload: Any) -> bool:
    """True for the `vitrage.alarm.*` twin of a `vitrage.deduced_alarm.*`.

    Vitrage's graph notifier emits both types for every deduced alarm
    change; a notifier that sees the whole topic needs only one of them.
    The stock webhook forwards only `vitrage.alarm.*`, so the receiver must
    not drop these.
    """
    if event_type not in ("vitrage.alarm.activate",
                          "vitrage.alarm.deactivate"):
        return False
    alarm = as_dict(payload)
    return alarm is not None and \
        alarm.get("vitrage_type") == DEDUCED_ALARM_TYPE


def parse_graph_event(event_type: str, payload: Any, source: str,
                      conf: Any) -> Parsed:
    """Turn one notification as a Vitrage notifier receives it into Parsed.

    `conf` holds the `selfheal_ingest` options (see ingest.opts).
    """
    if not isinstance(event_type, str) or not event_type:
        return Rejection(Reason.MALFORMED,
                         f"event type {show(event_type)} is not a name")
    if event_type == EXECUTE_EXTERNAL_ACTION:
        return parse_external_action(payload, source, conf)
    if event_type in OTHER_VITRAGE_EVENTS:
        return Ignored(f"{event_type} is not an alarm event")
    active = ALARM_EVENTS.get(event_type)
    if active is None:
        return Rejection(Reason.UNKNOWN_EVENT,
                         f"unknown event type {show(event_type)}")
    return _parse_alarm(event_type, active, payload, source, patterns(conf))


def parse_external_action(payload: Any, source: str, conf: Any) -> Parsed:
    """An execute_mistral action, `{'workflow': ..., 'input': {...}}`."""
    pats = patterns(conf)
    action = as_dict(payload)
    if action is None:
        return _not_an_object(f"{EXECUTE_EXTERNAL_ACTION} payload", payload)
    workflow = action.get("workflow")
    if not isinstance(workflow, str) or not workflow:
        return Rejection(Reason.MALFORMED,
                         f"{EXECUTE_EXTERNAL_ACTION} without a workflow "
                         f"name (workflow={show(workflow)})")
    if workflow not in pats.workflows:
        return Ignored(f"workflow {show(workflow)} is not one of "
                       f"{sorted(pats.workflows)}")
    where = f"workflow {workflow!r} input"
    if "input" not in action:
        return Rejection(Reason.MALFORMED, f"{where} is missing")
    given = as_dict(action["input"])
    if given is None:
        return _not_an_object(where, action["input"])
    unscanned = _template_rejection(given, "input", where)
    if unscanned is not None:
        return unscanned
    unit = unit_from_fields(given, "unit_id", where)
    if isinstance(unit, Rejection):
        return unit
    try:
        canonical = json.dumps(given, sort_keys=True, separators=(",", ":"),
                               default=str)
    except (TypeError, ValueError) as exc:
        # Keys of mixed types cannot be sorted: only an in-process sender
        # can hand over such a mapping.
        return Rejection(Reason.MALFORMED,
                         f"{where} has no canonical JSON form: {exc}")
    digest = hashlib.sha1(canonical.encode("utf-8")).hexdigest()
    alarm_name = given.get("alarm_name")
    return _storable(HealRequest(
        unit=unit, alarm_key=f"action:{digest}",
        alarm_name=alarm_name if isinstance(alarm_name, str) and alarm_name
        else workflow,
        intent=Intent.HEAL, active=True, source=source,
        detail=f"{EXECUTE_EXTERNAL_ACTION} {workflow}"), where)


def _parse_alarm(event_type: str, active: bool, payload: Any, source: str,
                 pats: Patterns) -> Parsed:
    alarm = as_dict(payload)
    if alarm is None:
        return _not_an_object(f"{event_type} payload", payload)
    name = alarm.get("name")
    if not isinstance(name, str) or not name.strip():
        alarm_id = show(alarm.get("vitrage_id"))
        return Rejection(Reason.MALFORMED,
                         f"{event_type}: alarm {alarm_id} has no name "
                         f"(name={show(name)})")
    raw_resource = alarm.get("resource")
    resource = as_dict(raw_resource) if raw_resource is not None else None
    shown = show(name)
    if raw_resource is not None and resource is None:
        return _not_an_object(f"{event_type}: alarm {shown} resource",
                              raw_resource)
    intent = pats.intent_of(name)
    if intent is None:
        on = _describe(resource)
        return Ignored(f"alarm {shown} on {on} matches no selfheal pattern")
    alarm["resource"] = resource
    where = f"{event_type}: alarm {shown}"
    unscanned = _template_rejection(alarm, "alarm", where)
    if unscanned is not None:
        return unscanned
    if resource is None or resource.get("vitrage_type") != pats.unit_type:
        return Rejection(Reason.NOT_A_UNIT,
                         f"{intent.value} alarm {shown} is on "
                         f"{_describe(resource)}, not a {pats.unit_type!r} "
                         f"vertex")
    unit = unit_from_fields(resource, "id", f"{pats.unit_type} resource")
    if isinstance(unit, Rejection):
        return Rejection(unit.reason, f"{where}: {unit.detail}")
    event_time, unread = _event_time(alarm)
    return _storable(HealRequest(
        unit=unit, alarm_key=_alarm_key(name, unit), alarm_name=name,
        intent=intent, active=active, source=source,
        detail=event_type if unread is None else f"{event_type}; {unread}",
        event_time=event_time), where)


def _alarm_key(name: str, unit: Unit) -> str:
    """Name and unit, not Vitrage's vitrage_id: that is a fresh uuid after
    a Vitrage restart, and the replayed activation must stay a DUPLICATE.

    Both may be at their widest and still fit their own columns, so a key
    too long for its column ends in a digest of the whole: still one key
    per alarm and unit, and no heal lost to the arithmetic of widths.
    """
    return bounded_alarm_key(f"{name}@{unit.vertex_id}")


def bounded_alarm_key(key: str) -> str:
    """`key`, or, if too long for its column, its head and a digest of the
    whole: still one key per alarm and unit (shared with ingest/zaqar)."""
    if len(key) <= limits.ALARM_KEY:
        return key
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()
    suffix = f"~sha1:{digest}"
    return key[:limits.ALARM_KEY - len(suffix)] + suffix


def _event_time(alarm: Mapping[str, Any]
                ) -> tuple[Optional[float], Optional[str]]:
    """(epoch seconds, None), (None, None) if the alarm has no time, or
    (None, why) if its time cannot be read. Never a rejection: the alarm
    still means what it says, only its order is unknown."""
    raw = alarm.get("update_timestamp")
    if raw is None:
        return None, None
    when = timestamps.epoch_of(raw)
    if when is None:
        return None, (f"update_timestamp {show(raw)} unreadable; arrival "
                      f"order used")
    return when, None


def _template_rejection(root: Mapping[str, Any], name: str,
                        where: str) -> Optional[Rejection]:
    found = scan.find_template_text(root, name)
    if isinstance(found, scan.Found):
        return Rejection(Reason.UNRESOLVED_TEMPLATE,
                         f"{where}: {found.path} is unresolved template "
                         f"text {show(found.value)}")
    if isinstance(found, scan.TooComplex):
        return Rejection(Reason.PAYLOAD_TOO_COMPLEX,
                         f"{where}: {found.detail}")
    return None


def _storable(request: HealRequest, where: str) -> Parsed:
    """The request, or why the ledger could never store it."""
    problem = limits.request_problem(request)
    if problem is None:
        return request
    return Rejection(Reason.INVALID_FIELD, f"{where}: {problem}")


def _describe(resource: Optional[Mapping[str, Any]]) -> str:
    if resource is None:
        return "no resource"
    return (f"{show(resource.get('vitrage_type'))} resource "
            f"{show(resource.get('id'))}")
