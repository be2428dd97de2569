"""Checked at parse time: fields the ledger cannot store, the event time,
payloads too big or deep to scan completely."""

from __future__ import annotations

import datetime

import pytest

from tests.unit.test_ingest_parse import (
    EVENT_TIME,
    ROOT,
    STACK,
    UNIT_ID,
    alarm_payload,
    unit_vertex,
)
from vitrage_selfheal import limits
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest import scan
from vitrage_selfheal.ingest.parse import (
    Rejection,
    parse_external_action,
    parse_graph_event,
)
from vitrage_selfheal.ingest.timestamps import epoch_of
from vitrage_selfheal.model import HealRequest, Reason

ACTIVATE = "vitrage.deduced_alarm.activate"
ACTION = "vitrage.execute_external_action"
LONG_ID = "i" * (limits.UNIT_ID + 1)


@pytest.fixture
def conf():
    return ingest_opts.load([])


def parse(conf, payload, event=ACTIVATE):
    return parse_graph_event(event, payload, "webhook", conf)


def rejected(got, reason, *words) -> None:
    assert isinstance(got, Rejection), got
    assert got.reason is reason, got
    for word in words:
        assert word in got.detail, got.detail


# --- A. validate before store -----------------------------------------------

@pytest.mark.parametrize("resource, words", [
    (unit_vertex(id=None, root_stack_id=LONG_ID),
     ["heat.unit resource: root_stack_id is 65 characters", "of 64"]),
    (unit_vertex(id=None, stack_id="st\x00ack"),
     ["stack_id contains NUL at character 2"]),
    (unit_vertex(id=None, resource_name="m\ud800"),
     ["resource_name contains a lone surrogate U+D800"]),
    (unit_vertex(id=None, resource_name="m" * 256),
     ["resource_name is 256 characters", "of 255"]),
    (unit_vertex(id=None, stack_id="s" * 64, resource_name="m" * 250),
     ["unit key is 315 characters", "of 300"]),
    (unit_vertex(physical_id="p" * 65), ["physical_id is 65"]),
    (unit_vertex(physical_id="p\x00"), ["physical_id contains NUL"]),
    (unit_vertex(group="g" * 301), ["group is 301"]),
    (unit_vertex(group="\udc00"), ["group contains a lone surrogate"]),
    (unit_vertex(group_size=2**31), ["group_size 2147483648", "over"]),
    (unit_vertex(group_size="9" * 5000), ["group_size", "over the limit"]),
    (unit_vertex(id=f"{ROOT}/{STACK}/m\x00", resource_name=None),
     ["id contains NUL at character 75"]),
    (unit_vertex(id=f"{LONG_ID}/{STACK}/member-0", root_stack_id=None),
     ["root_stack_id is 65"]),
    (unit_vertex(id="x" * 400), ["id is 400 characters"]),
], ids=lambda v: None if isinstance(v, dict) else v[0][:30])
def test_unstorable_unit_fields_are_invalid(conf, resource, words) -> None:
    got = parse(conf, alarm_payload(resource=resource))
    rejected(got, Reason.INVALID_FIELD, *words)
    assert got.detail.startswith(ACTIVATE)


@pytest.mark.parametrize("name, words", [
    ("selfheal.heal " + "x" * 300, ["alarm_name is 314 characters",
                                    "of 255"]),
    ("selfheal.heal \x00", ["alarm_name contains NUL at character 14"]),
    ("selfheal.heal \ud800", ["alarm_name contains a lone surrogate"]),
])
def test_unstorable_alarm_name_is_invalid(conf, name, words) -> None:
    got = parse(conf, alarm_payload(name))
    rejected(got, Reason.INVALID_FIELD, *words)
    # The detail shows the name, shortened and escaped.
    assert len(got.detail) < 400
    assert "\x00" not in got.detail and "\ud800" not in got.detail


def test_widest_name_on_widest_unit_still_heals_with_a_stable_key(
        conf) -> None:
    name = "selfheal.heal " + "n" * (limits.ALARM_NAME - 14)
    resource = unit_vertex(id=None, root_stack_id="r" * 64,
                           stack_id="s" * 64, resource_name="m" * 235)
    first = parse(conf, alarm_payload(name, resource=resource))
    again = parse(conf, alarm_payload(name, resource=resource,
                                      vitrage_id="new-uuid"))
    other = parse(conf, alarm_payload(name, resource=unit_vertex(
        id=None, root_stack_id="r" * 64, stack_id="s" * 64,
        resource_name="m" * 234 + "x")))
    assert isinstance(first, HealRequest), first
    assert len(first.alarm_key) == limits.ALARM_KEY
    assert "~sha1:" in first.alarm_key
    assert first.alarm_key == again.alarm_key != other.alarm_key
    assert limits.request_problem(first) is None


def test_short_keys_stay_readable(conf) -> None:
    got = parse(conf, alarm_payload())
    assert got.alarm_key == f"selfheal.heal unit unreachable@{UNIT_ID}"


@pytest.mark.parametrize("given, words", [
    ({"unit_id": UNIT_ID, "alarm_name": "a" * 256}, ["alarm_name is 256"]),
    ({"unit_id": UNIT_ID, "physical_id": "\x00"}, ["physical_id", "NUL"]),
    ({"root_stack_id": ROOT, "stack_id": "s" * 65, "resource_name": "m"},
     ["stack_id is 65"]),
])
def test_unstorable_action_input_is_invalid(conf, given, words) -> None:
    got = parse_external_action({"workflow": "selfheal.heal_units",
                                 "input": given}, "webhook", conf)
    rejected(got, Reason.INVALID_FIELD, "workflow 'selfheal.heal_units' "
             "input:", *words)


def test_source_too_long_is_invalid(conf) -> None:
    got = parse_graph_event(ACTIVATE, alarm_payload(), "s" * 41, conf)
    rejected(got, Reason.INVALID_FIELD, "source is 41 characters")


def test_mixed_key_types_of_an_in_process_input_are_malformed(conf) -> None:
    got = parse_external_action({"workflow": "selfheal.heal_units",
                                 "input": {"unit_id": UNIT_ID, 1: "x"}},
                                "notifier", conf)
    rejected(got, Reason.MALFORMED, "canonical JSON")


# --- B. event time ----------------------------------------------------------

def utc(*parts) -> float:
    return datetime.datetime(*parts, tzinfo=datetime.timezone.utc
                             ).timestamp()


@pytest.mark.parametrize("text, want", [
    ("2026-11-25 10:00:00.000000", utc(2026, 11, 25, 10)),
    ("2026-11-25 10:00:00", utc(2026, 11, 25, 10)),
    ("2026-11-25 10:00:00.250000", utc(2026, 11, 25, 10, 0, 0, 250000)),
    ("2026-11-25 10:00:00.5", utc(2026, 11, 25, 10, 0, 0, 500000)),
    ("2026-11-25T10:00:00", utc(2026, 11, 25, 10)),
    ("2026-11-25T10:00:00Z", utc(2026, 11, 25, 10)),
    ("2026-11-25T10:00:00.123456Z", utc(2026, 11, 25, 10, 0, 0, 123456)),
    ("2026-11-25T10:00:00+00:00", utc(2026, 11, 25, 10)),
    ("2026-11-25T12:00:00+02:00", utc(2026, 11, 25, 10)),
    ("2026-11-25T05:30:00-0430", utc(2026, 11, 25, 10)),
    ("2026-11-25 10:00:00+00:00", utc(2026, 11, 25, 10)),
    (" 2026-11-25 10:00:00 ", utc(2026, 11, 25, 10)),
    ("1970-01-01 00:00:00", 0.0),
    ("2028-02-29 00:00:00", utc(2028, 2, 29)),
    (datetime.datetime(2026, 11, 25, 10), utc(2026, 11, 25, 10)),
])
def test_update_timestamp_read(text, want) -> None:
    assert epoch_of(text) == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("text", [
    "", "yesterday", "²", "2026-11-25", "10:00:00", "2026-11-25 10:00",
    "2026-13-01 00:00:00", "2026-02-30 00:00:00", "2026-11-25 24:00:00",
    "2026-11-25 10:60:00", "2026-11-25 10:00:61", "2026-11-25 10:00:00.",
    "2026-11-25 10:00:00.1234567", "2026-11-25 10:00:00+24:00",
    "2026-11-25 10:00:00+01:60", "2026-11-25 10:00:00 UTC",
    "2026-11-25x10:00:00", "٢٠٢٦-11-25 10:00:00", "2026-11-25 10:00:00²",
    "0000-01-01 00:00:00", "+2026-11-25 10:00:00", "2026-11-25 10:00:00\x00",
    1795600800, 1795600800.0, None, True, ["2026-11-25 10:00:00"], {},
])
def test_update_timestamp_unreadable(text) -> None:
    assert epoch_of(text) is None


def test_alarm_carries_its_event_time(conf) -> None:
    got = parse(conf, alarm_payload())
    assert got.event_time == EVENT_TIME
    assert got.detail == ACTIVATE


def test_alarm_without_time_has_none(conf) -> None:
    got = parse(conf, alarm_payload(update_timestamp=None))
    assert got.event_time is None
    assert got.detail == ACTIVATE


@pytest.mark.parametrize("stamp", ["²", "2026-02-30 00:00:00", 17, ""])
def test_unreadable_time_heals_in_arrival_order(conf, stamp) -> None:
    got = parse(conf, alarm_payload(update_timestamp=stamp))
    assert isinstance(got, HealRequest)
    assert got.event_time is None
    assert got.detail == (f"{ACTIVATE}; update_timestamp {stamp!r} "
                          f"unreadable; arrival order used")


def test_external_action_has_no_event_time(conf) -> None:
    got = parse_external_action({"workflow": "selfheal.heal_units",
                                 "input": {"unit_id": UNIT_ID}}, "s", conf)
    assert got.event_time is None


# --- C. the template scan is complete or refused -----------------------------

def padded(n: int, hidden_first: bool = True) -> dict:
    pad = ["x"] * n
    hidden = "get_attr(server, id)"
    return alarm_payload(extra={"a": [hidden] + pad} if hidden_first
                         else {"a": pad + [hidden]})


def test_get_attr_hidden_after_the_budget_is_refused(conf) -> None:
    # The old scan read the list from its end and stopped after 20,000
    # values, before reaching index 0.
    got = parse(conf, padded(scan.MAX_NODES + 1))
    rejected(got, Reason.PAYLOAD_TOO_COMPLEX, "20000")


def test_get_attr_at_the_end_of_a_big_payload_is_refused(conf) -> None:
    got = parse(conf, padded(scan.MAX_NODES + 1, hidden_first=False))
    assert isinstance(got, Rejection)
    assert got.reason in (Reason.PAYLOAD_TOO_COMPLEX,
                          Reason.UNRESOLVED_TEMPLATE)


def test_big_clean_payload_is_refused_not_half_scanned(conf) -> None:
    got = parse(conf, alarm_payload(extra=["x"] * (scan.MAX_NODES + 1)))
    rejected(got, Reason.PAYLOAD_TOO_COMPLEX, "alarm holds more than 20000")


def test_payload_under_the_budget_is_scanned_whole(conf) -> None:
    got = parse(conf, padded(scan.MAX_NODES - 100))
    rejected(got, Reason.UNRESOLVED_TEMPLATE, "alarm.extra.a[0]")
    clean = parse(conf, alarm_payload(extra=["x"] * (scan.MAX_NODES - 100)))
    assert isinstance(clean, HealRequest)


def test_deep_payload_is_refused(conf) -> None:
    deep: object = "leaf"
    for _ in range(scan.MAX_DEPTH + 1):
        deep = [deep]
    rejected(parse(conf, alarm_payload(extra=deep)),
             Reason.PAYLOAD_TOO_COMPLEX, "nested more than 32")


def test_external_action_input_is_bounded_too(conf) -> None:
    got = parse_external_action(
        {"workflow": "selfheal.heal_units",
         "input": {"unit_id": UNIT_ID, "pad": ["x"] * scan.MAX_NODES}},
        "s", conf)
    rejected(got, Reason.PAYLOAD_TOO_COMPLEX, "input holds more than")


def test_cyclic_in_process_payload_is_refused() -> None:
    loop: dict = {"a": "b"}
    loop["self"] = loop
    assert isinstance(scan.find_template_text(loop, "alarm"),
                      scan.TooComplex)


def test_scan_counts_exactly() -> None:
    assert isinstance(scan.find_template_text(["x"] * 9, "p", max_nodes=10),
                      scan.Clean)
    assert isinstance(scan.find_template_text(["x"] * 10, "p", max_nodes=10),
                      scan.TooComplex)
    assert scan.find_template_text({"k": ["a", "get_attr(b)"]}, "p") == \
        scan.Found("p.k[1]", "get_attr(b)")
