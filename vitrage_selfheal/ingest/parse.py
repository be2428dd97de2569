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
from typing import Any, Optional, Union

from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.model import (
    UNIT_ID_SEPARATOR,
    HealRequest,
    Intent,
    Reason,
    Unit,
)

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

UNIT_FIELDS = ("root_stack_id", "stack_id", "resource_name")
# Vitrage hands over a template's raw text (e.g. 'get_attr(stack, id)') when
# it promotes a "similar" action on UNDO; such a value must never be healed.
_TEMPLATE_FUNCTION = re.compile(r"get_attr\s*\(")
# Bounds the walk over an (attacker-sized, via the webhook) payload.
_MAX_SCAN_NODES = 20_000
_MAX_SHOWN = 120


@dataclasses.dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str


@dataclasses.dataclass(frozen=True)
class Ignored:
    detail: str


Parsed = Union[HealRequest, Rejection, Ignored]


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
                         f"event type {_show(event_type)} is not a name")
    if event_type == EXECUTE_EXTERNAL_ACTION:
        return parse_external_action(payload, source, conf)
    if event_type in OTHER_VITRAGE_EVENTS:
        return Ignored(f"{event_type} is not an alarm event")
    active = ALARM_EVENTS.get(event_type)
    if active is None:
        return Rejection(Reason.UNKNOWN_EVENT,
                         f"unknown event type {_show(event_type)}")
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
                         f"name (workflow={_show(workflow)})")
    if workflow not in pats.workflows:
        return Ignored(f"workflow {workflow!r} is not one of "
                       f"{sorted(pats.workflows)}")
    where = f"workflow {workflow!r} input"
    if "input" not in action:
        return Rejection(Reason.MALFORMED, f"{where} is missing")
    given = as_dict(action["input"])
    if given is None:
        return _not_an_object(where, action["input"])
    template = _find_template_text(given, "input")
    if template:
        return Rejection(Reason.UNRESOLVED_TEMPLATE,
                         f"{where}: {template[0]} is unresolved template "
                         f"text {_show(template[1])}")
    unit = _unit_from_fields(given, "unit_id", where)
    if isinstance(unit, Rejection):
        return unit
    canonical = json.dumps(given, sort_keys=True, separators=(",", ":"),
                           default=str)
    digest = hashlib.sha1(canonical.encode("utf-8")).hexdigest()
    alarm_name = given.get("alarm_name")
    return HealRequest(
        unit=unit, alarm_key=f"action:{digest}",
        alarm_name=alarm_name if isinstance(alarm_name, str) and alarm_name
        else workflow,
        intent=Intent.HEAL, active=True, source=source,
        detail=f"{EXECUTE_EXTERNAL_ACTION} {workflow}")


def _parse_alarm(event_type: str, active: bool, payload: Any, source: str,
                 pats: Patterns) -> Parsed:
    alarm = as_dict(payload)
    if alarm is None:
        return _not_an_object(f"{event_type} payload", payload)
    name = alarm.get("name")
    if not isinstance(name, str) or not name.strip():
        alarm_id = _show(alarm.get("vitrage_id"))
        return Rejection(Reason.MALFORMED,
                         f"{event_type}: alarm {alarm_id} has no name "
                         f"(name={_show(name)})")
    raw_resource = alarm.get("resource")
    resource = as_dict(raw_resource) if raw_resource is not None else None
    if raw_resource is not None and resource is None:
        return _not_an_object(f"{event_type}: alarm {name!r} resource",
                              raw_resource)
    intent = pats.intent_of(name)
    if intent is None:
        on = _describe(resource)
        return Ignored(f"alarm {name!r} on {on} matches no selfheal pattern")
    alarm["resource"] = resource
    template = _find_template_text(alarm, "alarm")
    if template:
        return Rejection(Reason.UNRESOLVED_TEMPLATE,
                         f"{event_type}: alarm {name!r}: {template[0]} is "
                         f"unresolved template text {_show(template[1])}")
    if resource is None or resource.get("vitrage_type") != pats.unit_type:
        return Rejection(Reason.NOT_A_UNIT,
                         f"{intent.value} alarm {name!r} is on "
                         f"{_describe(resource)}, not a {pats.unit_type!r} "
                         f"vertex")
    unit = _unit_from_fields(resource, "id", f"{pats.unit_type} resource")
    if isinstance(unit, Rejection):
        return Rejection(unit.reason, f"{event_type}: alarm {name!r}: "
                                      f"{unit.detail}")
    # Name and unit, not Vitrage's vitrage_id: that is a fresh uuid after a
    # Vitrage restart, and the replayed activation must stay a DUPLICATE.
    alarm_key = f"{name}@{unit.vertex_id}"
    return HealRequest(unit=unit, alarm_key=alarm_key, alarm_name=name,
                       intent=intent, active=active, source=source,
                       detail=event_type)


def _unit_from_fields(fields: Mapping[str, Any], id_key: str,
                      where: str) -> Union[Unit, Rejection]:
    """Build a Unit from a vertex id and/or explicit properties.

    Either may be absent (Vitrage's stock webhook keeps only the id; an
    action input may give only the parts), but where both are given they
    must agree: a disagreement means something upstream is confused about
    which unit it means, and replacing the wrong unit is the worst outcome.
    """
    def bad(text: str) -> Rejection:
        return Rejection(Reason.MALFORMED, f"{where}: {text}")

    explicit: dict[str, Optional[str]] = {}
    for key in UNIT_FIELDS:
        value = fields.get(key)
        if value is None or value == "":
            explicit[key] = None
        elif not isinstance(value, str) or not value.strip():
            return bad(f"{key} must be a non-empty string, "
                       f"got {_show(value)}")
        elif key != "resource_name" and UNIT_ID_SEPARATOR in value:
            return bad(f"{key} {value!r} contains {UNIT_ID_SEPARATOR!r}")
        else:
            explicit[key] = value

    vertex_id = fields.get(id_key)
    from_id: Optional[Unit] = None
    if vertex_id is not None and vertex_id != "":
        if not isinstance(vertex_id, str):
            return bad(f"{id_key} must be a string, got {_show(vertex_id)}")
        try:
            from_id = Unit.from_vertex_id(vertex_id)
        except ValueError as exc:
            return bad(str(exc))

    parts: dict[str, str] = {}
    for key in UNIT_FIELDS:
        given = explicit[key]
        implied = getattr(from_id, key) if from_id else None
        if given and implied and given != implied:
            return bad(f"{id_key} {vertex_id!r} says {key}={implied!r} but "
                       f"property {key} is {given!r}")
        if given or implied:
            parts[key] = given or implied  # type: ignore[assignment]
    missing = [key for key in UNIT_FIELDS if key not in parts]
    if missing:
        return bad(f"missing {', '.join(missing)} (give them, or {id_key} "
                   f"'<root_stack_id>/<stack_id>/<resource_name>')")

    extra: dict[str, Any] = {}
    for key in ("physical_id", "group"):
        value = fields.get(key)
        if value is None or value == "":
            extra[key] = None
        elif isinstance(value, str):
            extra[key] = value
        else:
            return bad(f"{key} must be a string, got {_show(value)}")
    size = _group_size(fields.get("group_size"))
    if isinstance(size, str):
        return bad(size)
    return Unit(group_size=size, **parts, **extra)


def _group_size(value: Any) -> Union[int, None, str]:
    """The size, None when absent, or a complaint (a str)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return f"group_size must be a count, got {value!r}"
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and value.strip().isdigit():
        size = int(value.strip())
    else:
        return f"group_size must be a count, got {_show(value)}"
    if size < 0:
        return f"group_size must not be negative, got {size}"
    return size


def _find_template_text(root: Mapping[str, Any],
                        name: str) -> Optional[tuple[str, str]]:
    """(dotted path, value) of the first string holding template text."""
    stack: list[tuple[str, Any]] = [(name, root)]
    seen = 0
    while stack and seen < _MAX_SCAN_NODES:
        path, value = stack.pop()
        seen += 1
        if isinstance(value, str):
            if _TEMPLATE_FUNCTION.search(value):
                return path, value
        elif isinstance(value, Mapping):
            stack.extend((f"{path}.{key}", item)
                         for key, item in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{index}]", item)
                         for index, item in enumerate(value))
    return None


def _describe(resource: Optional[Mapping[str, Any]]) -> str:
    if resource is None:
        return "no resource"
    return (f"{_show(resource.get('vitrage_type'))} resource "
            f"{_show(resource.get('id'))}")


def _show(value: Any) -> str:
    """repr, shortened: details are persisted and logged."""
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        return text[:_MAX_SHOWN - 3] + "..."
    return text
