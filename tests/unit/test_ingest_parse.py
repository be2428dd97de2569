"""Raw notifications -> HealRequest / Rejection / Ignored, and deliver()."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Optional

import pytest

import vitrage_selfheal.ingest as ingest_pkg
from vitrage_selfheal.errors import Replayed
from vitrage_selfheal.ingest import (
    IngestStats,
    OutcomeKind,
    deliver,
    ingest,
    parse_external_action,
    parse_graph_event,
)
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.parse import (
    Ignored,
    Rejection,
    duplicates_deduced_event,
    patterns,
)
from vitrage_selfheal.model import (
    Action,
    Decision,
    HealRequest,
    Intent,
    Reason,
    Unit,
)

ROOT = "11111111-1111-1111-1111-111111111111"
STACK = "22222222-2222-2222-2222-222222222222"
UNIT_ID = f"{ROOT}/{STACK}/member-0"
ALARM_ID = "8a5b6c7d-0000-4000-8000-000000000001"
# alarm_payload's update_timestamp, 2026-11-25 10:00:00 UTC.
EVENT_TIME = 1795600800.0


class RecordingSink:
    """Keeps what the ingest handed over; can be told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.requests: list[HealRequest] = []
        self.rejects: list[tuple[Reason, str, str]] = []
        self.fail = fail
        self.deliveries: set[str] = set()
        self._lock = threading.Lock()

    def _claim(self, delivery: Optional[str]) -> None:
        # Like the healer: a delivery applied once is a replay after.
        if delivery is not None:
            if delivery in self.deliveries:
                raise Replayed(delivery)
            self.deliveries.add(delivery)

    def submit(self, request: HealRequest) -> list[Decision]:
        if self.fail:
            raise RuntimeError("ledger down (test)")
        with self._lock:
            self._claim(request.delivery)
            self.requests.append(request)
        return [Decision(Action.ACCEPT, Reason.FIRST_HEAL,
                         unit_key=request.unit.key)]

    def reject(self, reason: Reason, detail: str, source: str,
               delivery: Optional[str] = None) -> Decision:
        if self.fail:
            raise RuntimeError("ledger down (test)")
        with self._lock:
            self._claim(delivery)
            self.rejects.append((reason, detail, source))
        return Decision(Action.REJECT, reason, detail)


class FakeVertex:
    """Shaped like vitrage.graph.driver.elements.Vertex."""

    def __init__(self, vertex_id: str, properties: dict) -> None:
        self.vertex_id = vertex_id
        self.properties = properties


def unit_vertex(**overrides) -> dict:
    """The full unit vertex, as the graph holds it."""
    vertex = {
        "vitrage_id": "unit-vertex-uuid",
        "id": UNIT_ID,
        "name": "member-0",
        "vitrage_type": "heat.unit",
        "vitrage_category": "RESOURCE",
        "root_stack_id": ROOT,
        "stack_id": STACK,
        "resource_name": "member-0",
        "physical_id": "server-0",
        "group": "asg",
        "group_size": "4",
        "state": "AVAILABLE",
    }
    vertex.update(overrides)
    return {k: v for k, v in vertex.items() if v is not None}


def alarm_payload(name: str = "selfheal.heal unit unreachable",
                  resource=None, **overrides) -> dict:
    """A deduced alarm's properties plus `resource`, as Vitrage sends."""
    payload = {
        "vitrage_id": ALARM_ID,
        "name": name,
        "vitrage_category": "ALARM",
        "vitrage_type": "vitrage",
        "severity": "CRITICAL",
        "state": "Active",
        "vitrage_resource_id": "unit-vertex-uuid",
        "vitrage_resource_type": "heat.unit",
        "vitrage_is_deleted": False,
        "vitrage_is_placeholder": False,
        "update_timestamp": "2026-11-25 10:00:00.000000",
        "resource": unit_vertex() if resource is None else resource,
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


@pytest.fixture
def conf():
    return ingest_opts.load([])


def parse(conf, payload, event="vitrage.deduced_alarm.activate",
          source="vitrage.notifier"):
    return parse_graph_event(event, payload, source, conf)


# --- alarm events ------------------------------------------------------

def test_deduced_activate_gives_full_unit(conf):
    got = parse(conf, alarm_payload())
    assert got == HealRequest(
        unit=Unit(ROOT, STACK, "member-0", physical_id="server-0",
                  group="asg", group_size=4),
        alarm_key=f"selfheal.heal unit unreachable@{UNIT_ID}",
        alarm_name="selfheal.heal unit unreachable",
        intent=Intent.HEAL, active=True, source="vitrage.notifier",
        detail="vitrage.deduced_alarm.activate",
        event_time=EVENT_TIME)


@pytest.mark.parametrize("event, active", [
    ("vitrage.deduced_alarm.activate", True),
    ("vitrage.deduced_alarm.deactivate", False),
    ("vitrage.alarm.activate", True),
    ("vitrage.alarm.deactivate", False),
])
def test_each_alarm_event_kind(conf, event, active):
    got = parse(conf, alarm_payload(), event=event, source="webhook")
    assert isinstance(got, HealRequest)
    assert got.active is active
    assert got.source == "webhook"
    assert got.detail == event


def test_stock_webhook_filtered_resource_keeps_unit_from_id(conf):
    # Vitrage's webhook keeps only these resource keys.
    filtered = {"vitrage_id": "unit-vertex-uuid", "id": UNIT_ID,
                "name": "member-0", "vitrage_type": "heat.unit",
                "vitrage_category": "RESOURCE"}
    got = parse(conf, alarm_payload(resource=filtered),
                event="vitrage.alarm.activate")
    assert got.unit == Unit(ROOT, STACK, "member-0")


def test_resource_as_graph_vertex_object(conf):
    vertex = FakeVertex("unit-vertex-uuid", unit_vertex())
    got = parse(conf, alarm_payload(resource=vertex))
    assert got.unit.physical_id == "server-0"


def test_unit_from_properties_without_id(conf):
    got = parse(conf, alarm_payload(resource=unit_vertex(id=None)))
    assert got.unit.vertex_id == UNIT_ID


def test_alarm_key_is_name_at_unit_and_survives_a_vitrage_restart(conf):
    got = parse(conf, alarm_payload(vitrage_id=None))
    assert got.alarm_key == f"selfheal.heal unit unreachable@{UNIT_ID}"
    again = parse(conf, alarm_payload(vitrage_id="fresh-uuid-after-restart"))
    assert again.alarm_key == got.alarm_key


@pytest.mark.parametrize("name, intent", [
    ("selfheal.heal", Intent.HEAL),
    ("selfheal.heal.nova_down", Intent.HEAL),
    ("selfheal.suppress switch down", Intent.SUPPRESS),
    ("selfheal.scale_out", Intent.SCALE_OUT),
    ("selfheal.scale_in cpu low", Intent.SCALE_IN),
])
def test_patterns_choose_intent(conf, name, intent):
    assert parse(conf, alarm_payload(name)).intent is intent


@pytest.mark.parametrize("name", [
    "selfheal.heal_units",        # \b: not the heal alarm
    "xselfheal.heal",             # anchored
    "instance down",
])
def test_unmatched_alarm_on_unit_is_ignored(conf, name):
    got = parse(conf, alarm_payload(name))
    assert isinstance(got, Ignored)
    assert name in got.detail


def test_configured_pattern_replaces_default(conf):
    conf.set_override("heal_alarm_pattern", r"^unit\.down$",
                      group=ingest_opts.INGEST_GROUP)
    assert parse(conf, alarm_payload("unit.down")).intent is Intent.HEAL
    assert isinstance(parse(conf, alarm_payload("selfheal.heal")), Ignored)


def test_overlapping_patterns_prefer_suppress(conf):
    conf.set_override("suppress_alarm_pattern", r"^selfheal\.",
                      group=ingest_opts.INGEST_GROUP)
    assert parse(conf, alarm_payload()).intent is Intent.SUPPRESS


def test_bad_regex_fails_when_compiled(conf):
    conf.set_override("scale_in_alarm_pattern", "(",
                      group=ingest_opts.INGEST_GROUP)
    with pytest.raises(ValueError, match="scale_in_alarm_pattern"):
        patterns(conf)


def test_unmatched_alarm_on_other_resource_is_ignored(conf):
    instance = {"id": "vm-1", "vitrage_type": "nova.instance"}
    assert isinstance(parse(conf, alarm_payload("cpu high", instance)),
                      Ignored)


@pytest.mark.parametrize("event", [
    "vitrage.mark_down.activate", "vitrage.alarm.change",
    "vitrage.causal_relationship.activate",
])
def test_other_vitrage_events_are_ignored(conf, event):
    assert isinstance(parse(conf, alarm_payload(), event=event), Ignored)


# --- rejections --------------------------------------------------------

def assert_rejected(got, reason, *words):
    assert isinstance(got, Rejection), got
    assert got.reason is reason, got
    for word in words:
        assert word in got.detail, got.detail


def test_unknown_event_type(conf):
    assert_rejected(parse(conf, {}, event="compute.instance.update"),
                    Reason.UNKNOWN_EVENT, "compute.instance.update")


@pytest.mark.parametrize("event", [None, "", 7])
def test_event_type_not_a_name(conf, event):
    assert_rejected(parse(conf, {}, event=event), Reason.MALFORMED)


@pytest.mark.parametrize("payload", [None, "text", ["a"], 3])
def test_payload_not_an_object(conf, payload):
    assert_rejected(parse(conf, payload), Reason.MALFORMED, "not an object")


def test_alarm_without_name(conf):
    assert_rejected(parse(conf, alarm_payload(name=None)),
                    Reason.MALFORMED, "has no name", ALARM_ID)


def test_resource_not_an_object(conf):
    assert_rejected(parse(conf, alarm_payload(resource="vm-1")),
                    Reason.MALFORMED, "resource is str")


def test_heal_alarm_on_non_unit(conf):
    instance = {"id": "vm-1", "vitrage_type": "nova.instance"}
    assert_rejected(parse(conf, alarm_payload(resource=instance)),
                    Reason.NOT_A_UNIT, "'nova.instance'", "'vm-1'",
                    "heal alarm")


def test_scale_alarm_without_resource(conf):
    payload = alarm_payload("selfheal.scale_out")
    del payload["resource"]
    assert_rejected(parse(conf, payload), Reason.NOT_A_UNIT, "no resource")


def test_get_attr_in_resource_property(conf):
    resource = unit_vertex(stack_id="get_attr(stack, id)")
    assert_rejected(parse(conf, alarm_payload(resource=resource)),
                    Reason.UNRESOLVED_TEMPLATE, "alarm.resource.stack_id",
                    "get_attr(stack, id)")


def test_get_attr_in_nested_alarm_value(conf):
    payload = alarm_payload(extra={"list": ["ok", "get_attr (a, b)"]})
    assert_rejected(parse(conf, payload), Reason.UNRESOLVED_TEMPLATE,
                    "alarm.extra.list[1]")


def test_missing_unit_ids(conf):
    resource = unit_vertex(id=None, stack_id=None)
    assert_rejected(parse(conf, alarm_payload(resource=resource)),
                    Reason.MALFORMED, "missing stack_id")


def test_malformed_vertex_id(conf):
    resource = unit_vertex(id="member-0")
    assert_rejected(parse(conf, alarm_payload(resource=resource)),
                    Reason.MALFORMED, "'member-0'",
                    "<root_stack_id>/<stack_id>/<resource_name>")


def test_vertex_id_disagrees_with_properties(conf):
    resource = unit_vertex(resource_name="member-1")
    assert_rejected(parse(conf, alarm_payload(resource=resource)),
                    Reason.MALFORMED, "resource_name='member-0'",
                    "'member-1'")


@pytest.mark.parametrize("size, reason_word", [
    ("four", "'four'"), (True, "True"), (-1, "negative"), (2.5, "2.5"),
])
def test_bad_group_size(conf, size, reason_word):
    resource = unit_vertex(group_size=size)
    assert_rejected(parse(conf, alarm_payload(resource=resource)),
                    Reason.MALFORMED, "group_size", reason_word)


def test_integer_group_size_and_no_group_size(conf):
    assert parse(conf, alarm_payload(
        resource=unit_vertex(group_size=3))).unit.group_size == 3
    assert parse(conf, alarm_payload(
        resource=unit_vertex(group_size=None))).unit.group_size is None


def test_separator_in_stack_id(conf):
    resource = unit_vertex(id=None, stack_id="a/b")
    assert_rejected(parse(conf, alarm_payload(resource=resource)),
                    Reason.MALFORMED, "contains '/'")


# --- execute_external_action ---------------------------------------------

def action(input_, workflow="selfheal.heal_units"):
    return {"workflow": workflow, "input": input_}


def test_external_action_with_parts(conf):
    given = {"root_stack_id": ROOT, "stack_id": STACK,
             "resource_name": "member-0", "physical_id": "server-0"}
    got = parse(conf, action(given), event="vitrage.execute_external_action")
    canonical = json.dumps(given, sort_keys=True, separators=(",", ":"))
    assert got == HealRequest(
        unit=Unit(ROOT, STACK, "member-0", physical_id="server-0"),
        alarm_key="action:" + hashlib.sha1(canonical.encode()).hexdigest(),
        alarm_name="selfheal.heal_units", intent=Intent.HEAL, active=True,
        source="vitrage.notifier",
        detail="vitrage.execute_external_action selfheal.heal_units")


def test_external_action_key_ignores_key_order(conf):
    a = parse_external_action(action({"unit_id": UNIT_ID, "x": 1}), "s",
                              conf)
    b = parse_external_action(action({"x": 1, "unit_id": UNIT_ID}), "s",
                              conf)
    c = parse_external_action(action({"x": 2, "unit_id": UNIT_ID}), "s",
                              conf)
    assert a.alarm_key == b.alarm_key != c.alarm_key
    assert a.unit == Unit(ROOT, STACK, "member-0")


def test_external_action_unit_id_disagrees(conf):
    got = parse_external_action(
        action({"unit_id": UNIT_ID, "stack_id": "other"}), "s", conf)
    assert_rejected(got, Reason.MALFORMED, "unit_id", "stack_id")


def test_external_action_raw_template_text(conf):
    # What Vitrage sends when it promotes a similar action on UNDO.
    given = {"root_stack_id": "get_attr(stack, id)",
             "stack_id": "get_attr(group, id)",
             "resource_name": "get_attr(unit, name)"}
    assert_rejected(parse_external_action(action(given), "s", conf),
                    Reason.UNRESOLVED_TEMPLATE, "get_attr(")


def test_external_action_missing_ids(conf):
    got = parse_external_action(action({"resource_name": "m"}), "s", conf)
    assert_rejected(got, Reason.MALFORMED, "root_stack_id, stack_id",
                    "unit_id")


@pytest.mark.parametrize("payload, word", [
    ({"input": {}}, "workflow name"),
    ({"workflow": "selfheal.heal_units"}, "missing"),
    ({"workflow": "selfheal.heal_units", "input": "x"}, "not an object"),
    ("nope", "not an object"),
])
def test_external_action_malformed(conf, payload, word):
    assert_rejected(parse_external_action(payload, "s", conf),
                    Reason.MALFORMED, word)


def test_external_action_foreign_workflow_is_ignored(conf):
    got = parse_external_action(action({}, workflow="std.echo"), "s", conf)
    assert isinstance(got, Ignored)
    assert "std.echo" in got.detail


def test_workflow_names_are_configurable(conf):
    conf.set_override("workflow_names", ["a", "b"],
                      group=ingest_opts.INGEST_GROUP)
    got = parse_external_action(action({"unit_id": UNIT_ID}, "b"), "s",
                                conf)
    assert isinstance(got, HealRequest)


def test_duplicates_deduced_event():
    deduced = alarm_payload()
    aodh = alarm_payload(vitrage_type="aodh")
    assert duplicates_deduced_event("vitrage.alarm.activate", deduced)
    assert duplicates_deduced_event("vitrage.alarm.deactivate", deduced)
    assert not duplicates_deduced_event("vitrage.deduced_alarm.activate",
                                        deduced)
    assert not duplicates_deduced_event("vitrage.alarm.activate", aodh)
    assert not duplicates_deduced_event("vitrage.alarm.activate", "x")


# --- deliver / ingest ----------------------------------------------------

def test_deliver_submits_and_counts(conf):
    sink, stats = RecordingSink(), IngestStats()
    out = ingest("vitrage.deduced_alarm.activate", alarm_payload(), "src",
                 conf, sink, stats)
    assert out.kind is OutcomeKind.SUBMITTED
    assert [str(d) for d in out.decisions] == [
        f"accept/FIRST_HEAL {STACK}/member-0"]
    assert len(sink.requests) == 1
    assert stats.snapshot() == {"submitted": 1}


def test_deliver_rejection_goes_to_sink_and_warns(conf, caplog):
    sink, stats = RecordingSink(), IngestStats()
    with caplog.at_level(logging.WARNING, "vitrage_selfheal.ingest"):
        out = ingest("bogus.event", {}, "src", conf, sink, stats)
    assert out.kind is OutcomeKind.REJECTED
    assert sink.rejects == [(Reason.UNKNOWN_EVENT,
                             "unknown event type 'bogus.event'", "src")]
    assert any(r.levelno == logging.WARNING and "UNKNOWN_EVENT" in
               r.getMessage() for r in caplog.records)
    assert stats.snapshot() == {"rejected": 1}


def test_deliver_ignored_is_counted_not_sunk(conf):
    sink, stats = RecordingSink(), IngestStats()
    out = ingest("vitrage.alarm.activate", alarm_payload("cpu"), "src", conf,
                 sink, stats)
    assert out.kind is OutcomeKind.IGNORED
    assert not sink.requests and not sink.rejects
    assert stats.snapshot() == {"ignored": 1}


def test_sink_failure_is_logged_with_request_not_raised(conf, caplog):
    sink = RecordingSink(fail=True)
    with caplog.at_level(logging.ERROR, "vitrage_selfheal.ingest"):
        out = ingest("vitrage.deduced_alarm.activate", alarm_payload(),
                     "src", conf, sink)
        bad = deliver(Rejection(Reason.MALFORMED, "broken"), sink, "src")
    assert out.kind is bad.kind is OutcomeKind.FAILED
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "selfheal.heal unit unreachable@" in errors[0].getMessage()
    assert "member-0" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert "broken" in errors[1].getMessage()


def test_parser_bug_becomes_a_recorded_rejection(conf, monkeypatch,
                                                 caplog):
    def boom(*args):
        raise KeyError("bug")

    monkeypatch.setattr(ingest_pkg, "parse_graph_event", boom)
    sink = RecordingSink()
    with caplog.at_level(logging.ERROR, "vitrage_selfheal.ingest"):
        out = ingest("vitrage.alarm.activate", {}, "src", conf, sink)
    assert out.kind is OutcomeKind.REJECTED
    assert sink.rejects[0][0] is Reason.MALFORMED
    assert "internal error" in sink.rejects[0][1]
