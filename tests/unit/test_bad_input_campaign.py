"""Bad-input campaign at the ingest doors, table by table: graph
notifications, execute_external_action payloads, webhook requests (the
files: test_bad_input_files.py).

Each case checks four things: the error is named (a Reason, or an
exception type and a message naming the bad field), the counter or
outcome it should move moves, nothing raises that should not (the
process survives), and a valid heal sent next is still taken (no heal
lost behind bad input).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import logging
from typing import Any, Optional

import pytest

from tests.unit.fakes import RecordingDispatcher, make_healer
from tests.unit.test_ingest_parse import (
    ROOT,
    STACK,
    UNIT_ID,
    RecordingSink,
    alarm_payload,
    unit_vertex,
)
from vitrage_selfheal import limits
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.ingest import IngestStats, OutcomeKind, ingest
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.webhook import (
    NOTIFICATIONS_PATH,
    UNAUTHENTICATED_COUNTER,
    WebhookApp,
    sign,
)
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import Reason

ACTIVATE = "vitrage.deduced_alarm.activate"
DEACTIVATE = "vitrage.alarm.deactivate"
ACTION = "vitrage.execute_external_action"
WORKFLOW = "selfheal.heal_units"
SECRET = "campaign-secret"
NOW = 1_800_000_000.0
LONG = "i" * (limits.UNIT_ID + 1)


@pytest.fixture
def conf():
    conf = ingest_opts.load([])
    conf.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
    conf.set_override("max_body", 1024 * 1024,
                      group=ingest_opts.WEBHOOK_GROUP)
    return conf


def good(name: str, **extra) -> dict:
    """A valid heal alarm on unit `name`."""
    return alarm_payload(resource=unit_vertex(
        id=f"{ROOT}/{STACK}/{name}", resource_name=name), **extra)


def padded(n: int) -> list:
    return ["x"] * n


def nested(depth: int, leaf: Any = "x") -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def res(**overrides) -> dict:
    return alarm_payload(resource=unit_vertex(**overrides))


# --- 1. graph notifications --------------------------------------------------

M, INV, U = Reason.MALFORMED, Reason.INVALID_FIELD, Reason.UNKNOWN_EVENT
T, C, N = (Reason.UNRESOLVED_TEMPLATE, Reason.PAYLOAD_TOO_COMPLEX,
           Reason.NOT_A_UNIT)
IGNORED = None

NOTIFICATIONS = [
    # event type
    ("type-none", None, {}, M, ["event type None is not a name"]),
    ("type-empty", "", {}, M, ["is not a name"]),
    ("type-int", 7, {}, M, ["event type 7"]),
    ("type-list", ["vitrage.alarm.activate"], {}, M, ["is not a name"]),
    ("type-dict", {"a": 1}, {}, M, ["is not a name"]),
    ("type-foreign", "compute.instance.update", {}, U, ["compute.instance"]),
    ("type-space", ACTIVATE + " ", good("m"), U, ["unknown event type"]),
    ("type-case", ACTIVATE.upper(), good("m"), U, ["unknown event type"]),
    ("type-nul", ACTIVATE + "\x00", good("m"), U, ["\\x00"]),
    ("type-surrogate", "vitrage.\ud800", {}, U, ["\\ud800"]),
    ("type-huge", "x" * 100_000, {}, U, ["unknown event type 'xxx"]),
    # payload shape
    ("payload-none", ACTIVATE, None, M, ["payload is NoneType"]),
    ("payload-str", ACTIVATE, "selfheal.heal", M, ["payload is str"]),
    ("payload-list", ACTIVATE, [good("m")], M, ["payload is list"]),
    ("payload-int", ACTIVATE, 3, M, ["payload is int"]),
    ("payload-bool", DEACTIVATE, True, M, ["payload is bool"]),
    ("payload-float", ACTIVATE, float("nan"), M, ["payload is float"]),
    ("payload-empty", ACTIVATE, {}, M, ["has no name"]),
    # alarm name
    ("name-none", ACTIVATE, alarm_payload(name=None), M, ["has no name"]),
    ("name-empty", ACTIVATE, alarm_payload(""), M, ["has no name"]),
    ("name-blank", ACTIVATE, alarm_payload("   "), M, ["name='   '"]),
    ("name-int", ACTIVATE, alarm_payload(7), M, ["name=7"]),
    ("name-list", ACTIVATE, alarm_payload(["selfheal.heal"]), M,
     ["has no name"]),
    ("name-dict", ACTIVATE, alarm_payload({"n": 1}), M, ["has no name"]),
    ("name-unmatched", ACTIVATE, alarm_payload("cpu high"), IGNORED,
     ["matches no selfheal pattern"]),
    ("name-unmatched-huge", ACTIVATE, alarm_payload("y" * 100_000),
     IGNORED, ["matches no selfheal pattern"]),
    ("name-nul", ACTIVATE, alarm_payload("selfheal.heal\x00x"), INV,
     ["alarm_name contains NUL"]),
    ("name-surrogate", ACTIVATE, alarm_payload("selfheal.heal \udcff"), INV,
     ["alarm_name contains a lone surrogate U+DCFF"]),
    ("name-long", ACTIVATE, alarm_payload("selfheal.heal " + "n" * 250), INV,
     ["alarm_name is 264 characters", "limit of 255"]),
    ("name-long-clear", DEACTIVATE,
     alarm_payload("selfheal.heal " + "n" * 300), INV, ["alarm_name is 314"]),
    # resource
    ("resource-str", ACTIVATE, alarm_payload(resource="vm-1"), M,
     ["resource is str"]),
    ("resource-list", ACTIVATE, alarm_payload(resource=[unit_vertex()]), M,
     ["resource is list"]),
    ("resource-int", ACTIVATE, alarm_payload(resource=5), M,
     ["resource is int"]),
    ("resource-missing", ACTIVATE,
     {k: v for k, v in good("m").items() if k != "resource"}, N,
     ["no resource"]),
    ("resource-foreign", ACTIVATE,
     alarm_payload(resource={"id": "vm-1", "vitrage_type": "nova.instance"}),
     N, ["'nova.instance'", "not a 'heat.unit' vertex"]),
    ("resource-untyped", ACTIVATE, res(vitrage_type=None), N,
     ["None resource"]),
    ("resource-type-int", ACTIVATE, res(vitrage_type=5), N, ["5 resource"]),
    ("resource-empty", ACTIVATE, alarm_payload(resource={}), N,
     ["not a 'heat.unit'"]),
    # the unit's ids
    ("id-and-parts-missing", ACTIVATE,
     res(id=None, stack_id=None, root_stack_id=None, resource_name=None),
     M, ["missing root_stack_id, stack_id, resource_name"]),
    ("id-one-part", ACTIVATE, res(id="member-0"), M,
     ["'member-0' is not"]),
    ("id-two-parts", ACTIVATE, res(id="a/b"), M, ["'a/b' is not"]),
    ("id-empty-part", ACTIVATE, res(id=f"{ROOT}//member-0"), M,
     ["is not '<root_stack_id>/<stack_id>/<resource_name>'"]),
    ("id-leading-slash", ACTIVATE, res(id=f"/{STACK}/member-0"), M,
     ["is not"]),
    ("id-int", ACTIVATE, res(id=7), M, ["id must be a string, got 7"]),
    ("id-list", ACTIVATE, res(id=[UNIT_ID]), M, ["id must be a string"]),
    ("id-nul", ACTIVATE, res(id=UNIT_ID + "\x00"), INV,
     ["id contains NUL at character 82"]),
    ("id-surrogate", ACTIVATE, res(id=UNIT_ID[:-1] + "\ud800",
                                   resource_name=None), INV,
     ["id contains a lone surrogate"]),
    ("id-huge", ACTIVATE, res(id="x/" * 5000), INV,
     ["id is 10000 characters"]),
    ("id-disagrees", ACTIVATE, res(resource_name="member-1"), M,
     ["says resource_name='member-0'", "'member-1'"]),
    ("root-int", ACTIVATE, res(root_stack_id=5), M,
     ["root_stack_id must be a non-empty string, got 5"]),
    ("root-blank", ACTIVATE, res(root_stack_id="  "), M,
     ["root_stack_id must be a non-empty string"]),
    ("root-long", ACTIVATE, res(id=None, root_stack_id=LONG), INV,
     ["root_stack_id is 65 characters", "limit of 64"]),
    ("root-nul", ACTIVATE, res(id=None, root_stack_id="r\x00"), INV,
     ["root_stack_id contains NUL at character 1"]),
    ("root-long-from-id", ACTIVATE,
     res(id=f"{LONG}/{STACK}/member-0", root_stack_id=None), INV,
     ["root_stack_id is 65"]),
    ("stack-slash", ACTIVATE, res(id=None, stack_id="a/b"), M,
     ["stack_id 'a/b' contains '/'"]),
    ("stack-list", ACTIVATE, res(stack_id=["s"]), M,
     ["stack_id must be a non-empty string"]),
    ("stack-long", ACTIVATE, res(id=None, stack_id="s" * 100), INV,
     ["stack_id is 100 characters"]),
    ("stack-surrogate", ACTIVATE, res(id=None, stack_id="\udc80"), INV,
     ["stack_id contains a lone surrogate U+DC80"]),
    ("resource-name-long", ACTIVATE, res(id=None, resource_name="m" * 256),
     INV, ["resource_name is 256 characters", "limit of 255"]),
    ("unit-key-long", ACTIVATE,
     res(id=None, stack_id="s" * 64, resource_name="m" * 250), INV,
     ["unit key is 315 characters", "limit of 300"]),
    ("resource-name-dict", ACTIVATE, res(resource_name={"a": 1}), M,
     ["resource_name must be a non-empty string"]),
    ("physical-int", ACTIVATE, res(physical_id=12), M,
     ["physical_id must be a string, got 12"]),
    ("physical-long", ACTIVATE, res(physical_id="p" * 65), INV,
     ["physical_id is 65 characters"]),
    ("physical-nul", ACTIVATE, res(physical_id="\x00"), INV,
     ["physical_id contains NUL"]),
    ("group-list", ACTIVATE, res(group=[]), M, ["group must be a string"]),
    ("group-long", ACTIVATE, res(group="g" * 301), INV,
     ["group is 301 characters"]),
    ("group-surrogate", ACTIVATE, res(group="g\ud83d"), INV,
     ["group contains a lone surrogate U+D83D"]),
    # group size
    ("size-word", ACTIVATE, res(group_size="four"), M,
     ["group_size must be a count, got 'four'"]),
    ("size-bool", ACTIVATE, res(group_size=True), M, ["got True"]),
    ("size-negative", ACTIVATE, res(group_size=-1), M, ["negative"]),
    ("size-float", ACTIVATE, res(group_size=2.5), M, ["got 2.5"]),
    ("size-superscript", ACTIVATE, res(group_size="²"), M, ["got '²'"]),
    ("size-arabic-indic", ACTIVATE, res(group_size="٣"), M, ["got '٣'"]),
    ("size-exponent", ACTIVATE, res(group_size="1e3"), M, ["got '1e3'"]),
    ("size-list", ACTIVATE, res(group_size=[4]), M, ["got [4]"]),
    ("size-over-int32", ACTIVATE, res(group_size=2**31), INV,
     ["group_size 2147483648 is over the limit of 2147483647"]),
    ("size-5000-digits", ACTIVATE, res(group_size="9" * 5000), INV,
     ["group_size '999", "over the limit"]),
    # template text and scan bounds
    ("get-attr-property", ACTIVATE, res(stack_id="get_attr(stack, id)"), T,
     ["alarm.resource.stack_id"]),
    ("get-attr-spaced", ACTIVATE, res(physical_id="get_attr  (s, id)"), T,
     ["alarm.resource.physical_id"]),
    ("get-attr-nested", ACTIVATE,
     alarm_payload(extra={"a": [{"b": "get_attr(x, y)"}]}), T,
     ["alarm.extra.a[0].b"]),
    ("get-attr-in-name", ACTIVATE, alarm_payload("selfheal.heal get_attr(a)"),
     T, ["alarm.name"]),
    ("get-attr-after-budget", ACTIVATE,
     alarm_payload(extra=["get_attr(server, id)"] + padded(20_001)), C,
     ["more than 20000 values"]),
    ("padded-clean", ACTIVATE, alarm_payload(extra=padded(20_001)), C,
     ["alarm holds more than 20000"]),
    ("padded-dict", ACTIVATE,
     alarm_payload(extra={str(n): n for n in range(20_001)}), C,
     ["more than 20000"]),
    ("deep", ACTIVATE, alarm_payload(extra=nested(40)), C,
     ["nested more than 32 levels"]),
    ("deep-get-attr", ACTIVATE,
     alarm_payload(extra=nested(40, "get_attr(a, b)")), C, ["nested"]),
    # other Vitrage events carry nothing for us, whatever they hold
    ("mark-down-garbage", "vitrage.mark_down.activate", None, IGNORED,
     ["not an alarm event"]),
    ("causal-garbage", "vitrage.causal_relationship.activate", [1, 2],
     IGNORED, ["not an alarm event"]),
]


def assert_named(got_reason: Optional[Reason], detail: str,
                 reason: Optional[Reason], words: list[str]) -> None:
    assert got_reason is reason, detail
    for word in words:
        assert word in detail, detail
    # Shortened and storable: a detail is persisted and logged.
    assert len(detail) < 1000, len(detail)
    assert "internal error" not in detail


def heal_around(conf, sink, stats, event, payload) -> Any:
    """A valid heal, the bad input, a valid heal: (outcome of the bad)."""
    ingest(ACTIVATE, good("before"), "webhook", conf, sink, stats)
    out = ingest(event, payload, "webhook", conf, sink, stats)
    ingest(ACTIVATE, good("after"), "webhook", conf, sink, stats)
    assert [r.unit.resource_name for r in sink.requests] == ["before",
                                                            "after"]
    return out


# --- 2. execute_external_action ---------------------------------------------

def act(input_: Any = None, workflow: Any = WORKFLOW, **extra) -> dict:
    action = {"workflow": workflow, **extra}
    if input_ is not None:
        action["input"] = input_
    return action


ACTIONS = [
    ("action-none", None, M, ["payload is NoneType"]),
    ("action-str", "heal", M, ["payload is str"]),
    ("action-list", [act({"unit_id": UNIT_ID})], M, ["payload is list"]),
    ("action-empty", {}, M, ["without a workflow name"]),
    ("workflow-none", act({"unit_id": UNIT_ID}, None), M,
     ["workflow=None"]),
    ("workflow-int", act({"unit_id": UNIT_ID}, 7), M, ["workflow=7"]),
    ("workflow-empty", act({"unit_id": UNIT_ID}, ""), M, ["workflow=''"]),
    ("workflow-foreign", act({"unit_id": UNIT_ID}, "std.echo"), IGNORED,
     ["'std.echo' is not one of"]),
    ("workflow-huge", act({}, "w" * 100_000), IGNORED, ["is not one of"]),
    ("input-missing", act(), M, ["input is missing"]),
    ("input-str", act("unit"), M, ["input is str, not an object"]),
    ("input-list", act([UNIT_ID]), M, ["input is list"]),
    ("input-empty", act({}), M, ["missing root_stack_id, stack_id"]),
    ("input-unit-id-bad", act({"unit_id": "nope"}), M, ["'nope' is not"]),
    ("input-unit-id-int", act({"unit_id": 5}), M,
     ["unit_id must be a string, got 5"]),
    ("input-unit-id-nul", act({"unit_id": UNIT_ID + "\x00"}), INV,
     ["unit_id contains NUL"]),
    ("input-disagrees", act({"unit_id": UNIT_ID, "stack_id": "other"}), M,
     ["unit_id", "says stack_id"]),
    ("input-template", act({"root_stack_id": "get_attr(stack, id)",
                            "stack_id": "s", "resource_name": "m"}), T,
     ["input.root_stack_id"]),
    ("input-template-deep", act({"unit_id": UNIT_ID,
                                 "x": [[{"y": "get_attr(a,b)"}]]}), T,
     ["input.x[0][0].y"]),
    ("input-name-nul", act({"unit_id": UNIT_ID, "alarm_name": "a\x00"}), INV,
     ["alarm_name contains NUL"]),
    ("input-name-long", act({"unit_id": UNIT_ID, "alarm_name": "a" * 300}),
     INV, ["alarm_name is 300 characters"]),
    ("input-physical-long", act({"unit_id": UNIT_ID, "physical_id": "p" * 99}),
     INV, ["physical_id is 99"]),
    ("input-size-word", act({"unit_id": UNIT_ID, "group_size": "many"}), M,
     ["group_size must be a count"]),
    ("input-padded", act({"unit_id": UNIT_ID, "pad": padded(20_001)}), C,
     ["input holds more than 20000"]),
    ("input-deep", act({"unit_id": UNIT_ID, "pad": nested(50)}), C,
     ["nested more than 32"]),
]


BAD_EVENTS = [case[1:] for case in NOTIFICATIONS] + \
    [(ACTION, *case[1:]) for case in ACTIONS]
BAD_IDS = [case[0] for case in NOTIFICATIONS + ACTIONS]


@pytest.mark.parametrize("event, payload, reason, words", BAD_EVENTS,
                         ids=BAD_IDS)
def test_bad_graph_notification_and_action(conf, caplog, event, payload,
                                           reason, words) -> None:
    sink, stats = RecordingSink(), IngestStats()
    with caplog.at_level(logging.ERROR, "vitrage_selfheal"):
        out = heal_around(conf, sink, stats, event, payload)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    if reason is None:
        assert out.kind is OutcomeKind.IGNORED
        assert not sink.rejects
        assert stats.snapshot() == {"submitted": 2, "ignored": 1}
        assert_named(None, out.detail, None, words)
    else:
        assert out.kind is OutcomeKind.REJECTED
        [(got, detail, source)] = sink.rejects
        assert stats.snapshot() == {"submitted": 2, "rejected": 1}
        assert_named(got, detail, reason, words)


# Odd but meaningful: the heal is taken, the oddity said in its detail.
ODD_TIMES = ["²", "yesterday", "2026-02-30 10:00:00", "2026-11-25", "",
             "2026-11-25 25:00:00", "٢٠٢٦-11-25 10:00:00", 1795600800,
             ["2026-11-25 10:00:00"], {"t": 1}, "2026-11-25 10:00:00\x00",
             "x" * 10_000]


@pytest.mark.parametrize("stamp", ODD_TIMES,
                         ids=[f"time-{n}" for n in range(len(ODD_TIMES))])
def test_unreadable_update_timestamp_still_heals(conf, stamp) -> None:
    sink, stats = RecordingSink(), IngestStats()
    for name in ("before", "odd", "after"):
        payload = good(name)
        if name == "odd":
            payload["update_timestamp"] = stamp
        ingest(ACTIVATE, payload, "webhook", conf, sink, stats)
    assert [r.unit.resource_name for r in sink.requests] == [
        "before", "odd", "after"]
    odd = sink.requests[1]
    assert odd.event_time is None
    assert odd.detail.startswith(f"{ACTIVATE}; update_timestamp ")
    assert odd.detail.endswith(" unreadable; arrival order used")
    assert len(odd.detail) < 300
    assert sink.requests[0].event_time is not None
    assert stats.snapshot() == {"submitted": 3}


@pytest.mark.parametrize("ledger_url", [
    "sqlite_ledger_url",
    # PostgreSQL refuses what SQLite lets by: NULs, over-long values.
    pytest.param("pg_ledger_url", marks=pytest.mark.postgres),
])
def test_every_bad_notification_is_recorded_and_no_heal_is_lost(
        tmp_path, request, ledger_url) -> None:
    """All of the tables above, interleaved with valid heals, into the
    real Healer on a real ledger: every rejection is a row, every valid
    unit is healed."""
    conf = ingest_opts.load([])
    clock = FakeClock(NOW)
    dispatcher = RecordingDispatcher()
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher,
                         ledger_url=request.getfixturevalue(ledger_url))
    bad = [(event, payload) for event, payload, _, _ in BAD_EVENTS]
    try:
        outcomes = []
        for n, (event, payload) in enumerate(bad):
            outcomes.append(ingest(event, payload, "webhook", conf, healer))
            # A group each: the storm guard is not what is tested here.
            ingest(ACTIVATE, alarm_payload(resource=unit_vertex(
                id=f"{ROOT}/{STACK}/ok-{n}", resource_name=f"ok-{n}",
                group=f"g-{n}")), "webhook", conf, healer)
        assert {o.kind for o in outcomes} <= {OutcomeKind.REJECTED,
                                              OutcomeKind.IGNORED}
        for _ in range(5):
            clock.advance(1.0)
            healer.tick()
        [(_, _, units)] = dispatcher.starts
        assert len(units) == len(bad)
        with healer.ledger.transaction() as tx:
            rejects = [r for r in tx.decisions(limit=10_000)
                       if r.action == "reject"]
        assert len(rejects) == sum(o.kind is OutcomeKind.REJECTED
                                   for o in outcomes)
        counts = healer.counters.snapshot()
        assert counts.get("healer.rejection_not_recorded", 0) == 0
        assert counts.get("healer.poison", 0) == 0
    finally:
        healer.locks.stop()
        healer.ledger.dispose()


# --- 3. the webhook receiver, called as WSGI ---------------------------------

AUTO = object()
GOOD_BODY = json.dumps({"notification": ACTIVATE,
                        "payload": good("web")}).encode()


def envelope(payload: Any, event: Any = ACTIVATE) -> bytes:
    return json.dumps({"notification": event, "payload": payload}).encode()


def raw_signature(body: bytes, ts: str) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + body,
                                hashlib.sha256).hexdigest()


@dataclasses.dataclass(frozen=True)
class Web:
    statuses: tuple[int, ...]
    body: bytes = GOOD_BODY
    # Header values; None: the correct signed one. DROP: left out.
    ts: Any = None
    sig: Any = None
    # Sign over this timestamp text instead of the clock's.
    sign_ts: Optional[str] = None
    method: str = "POST"
    path: str = NOTIFICATIONS_PATH
    length: Any = AUTO
    content_type: Optional[str] = "application/json"
    reason: Optional[Reason] = None
    extra: tuple[tuple[str, str], ...] = ()


DROP = "<drop>"
NOT_JSON = b'{"notification": '


def wip(name: str, case: Web) -> Any:
    return pytest.param(case, id=name)


def web_cases() -> list:
    now = str(int(NOW))
    arabic = "".join(chr(0x660 + int(d)) for d in now)
    return [
        # bodies that are not the envelope (authenticated: 400, recorded)
        ("body-bad-json", Web((400,), NOT_JSON, reason=M)),
        ("body-empty", Web((400,), b"", reason=M)),
        ("body-null", Web((400,), b"null", reason=M)),
        ("body-list", Web((400,), b"[]", reason=M)),
        ("body-string", Web((400,), b'"x"', reason=M)),
        ("body-number", Web((400,), b"1e999", reason=M)),
        ("body-no-payload", Web((400,), b'{"notification": "x"}', reason=M)),
        ("body-no-notification", Web((400,), b'{"payload": {}}', reason=M)),
        ("body-notification-int",
         Web((400,), b'{"notification": 5, "payload": {}}', reason=M)),
        ("body-not-utf8", Web((400,), b"\xff\xfe{}", reason=M)),
        ("body-utf16", Web((400,), '{"a": 1}'.encode("utf-16"), reason=M)),
        ("body-deep-json", Web((400,), b"[" * 100_000 + b"]" * 100_000,
                               reason=M)),
        ("body-trailing", Web((400,), GOOD_BODY + b"x", reason=M)),
        # envelopes with bad content (authenticated: 202, recorded)
        ("env-unknown-event", Web((202,), envelope({}, "bogus"), reason=U)),
        ("env-surrogate-event",
         Web((202,), b'{"notification": "\\ud800", "payload": {}}',
             reason=U)),
        ("env-payload-nan", Web((202,), b'{"notification": "' +
                                ACTIVATE.encode() + b'", "payload": NaN}',
                                reason=M)),
        ("env-payload-list", Web((202,), envelope([1]), reason=M)),
        ("env-name-nul", Web((202,), envelope(alarm_payload(
            "selfheal.heal\x00")), reason=INV)),
        ("env-name-surrogate", Web((202,), envelope(alarm_payload(
            "selfheal.heal \udc00")), reason=INV)),
        ("env-get-attr", Web((202,), envelope(res(
            stack_id="get_attr(s, id)")), reason=T)),
        ("env-padded", Web((202,), envelope(alarm_payload(
            extra=["get_attr(server, id)"] + padded(20_001))), reason=C)),
        ("env-id-long", Web((202,), envelope(res(id="x/" * 500)), reason=INV)),
        ("env-not-a-unit", Web((202,), envelope(alarm_payload(
            resource={"id": "h", "vitrage_type": "nova.host"})), reason=N)),
        # timestamp header
        wip("ts-superscript", Web((401,), ts="²", sign_ts="²")),
        wip("ts-arabic-indic-digits", Web((401,), ts=arabic,
                                          sign_ts=arabic)),
        ("ts-missing", Web((401,), ts=DROP)),
        ("ts-empty", Web((401,), ts="")),
        ("ts-negative", Web((401,), ts="-5", sign_ts="-5")),
        ("ts-exponent", Web((401,), ts="1.8e9", sign_ts="1.8e9")),
        ("ts-hex", Web((401,), ts="0x6b49d200", sign_ts="0x6b49d200")),
        ("ts-space", Web((401,), ts=f" {now}", sign_ts=f" {now}")),
        ("ts-13-digits", Web((401,), ts="1" * 13, sign_ts="1" * 13)),
        ("ts-huge", Web((401,), ts="9" * 100_000)),
        ("ts-stale", Web((401,), ts=str(int(NOW) - 1000),
                         sign_ts=str(int(NOW) - 1000))),
        ("ts-future", Web((401,), ts=str(int(NOW) + 1000),
                          sign_ts=str(int(NOW) + 1000))),
        ("ts-nul", Web((401,), ts=now + "\x00")),
        # signature header
        ("sig-missing", Web((401,), sig=DROP)),
        ("sig-empty", Web((401,), sig="")),
        ("sig-non-ascii", Web((401,), sig="sha256=" + "é" * 64)),
        ("sig-nul", Web((401,), sig="sha256=" + "\x00" * 64)),
        ("sig-md5", Web((401,), sig="md5=" + "0" * 32)),
        ("sig-no-scheme", Web((401,), sig="0" * 64)),
        ("sig-huge", Web((401,), sig="sha256=" + "a" * 1_000_000)),
        ("sig-crlf", Web((401,), sig="sha256=ab\r\nX-Evil: 1")),
        ("sig-other-body", Web((401,), sig=raw_signature(b"{}", now))),
        ("sig-other-secret", Web((401,), sig="sha256=" + hmac.new(
            b"wrong", f"{now}.".encode() + GOOD_BODY,
            hashlib.sha256).hexdigest())),
        # Content-Length
        ("length-missing", Web((400, 401), length=None)),
        ("length-word", Web((400,), length="abc")),
        ("length-superscript", Web((400,), length="²")),
        ("length-negative", Web((400, 401), length="-1")),
        ("length-fullwidth", Web((400, 401), length="１２")),
        ("length-short", Web((401,), length="10")),
        ("length-huge", Web((413,), length="9" * 30)),
        ("length-over-max", Web((413,), length=str(1024 * 1024 + 1))),
        # Content-Type (signed: the type is all that is wrong)
        wip("type-text", Web((415,), content_type="text/plain")),
        wip("type-form", Web((415,), content_type=(
            "application/x-www-form-urlencoded"))),
        wip("type-xml", Web((415,), content_type="application/xml")),
        # methods and paths
        ("method-get", Web((405,), method="GET")),
        ("method-put", Web((405,), method="PUT")),
        ("method-lowercase", Web((405,), method="post")),
        ("method-empty", Web((405,), method="")),
        ("path-root", Web((404,), path="/")),
        ("path-slash", Web((404,), path=NOTIFICATIONS_PATH + "/")),
        ("path-nul", Web((404,), path=NOTIFICATIONS_PATH + "\x00")),
        ("path-non-ascii", Web((404,), path="/v1/notificatíons")),
        ("path-huge", Web((404,), path="/" + "a" * 100_000)),
        ("healthz-post", Web((405,), path="/healthz")),
        # odd headers around a correct request: accepted as it is
        ("header-huge-other",
         Web((202,), extra=(("X-Pad", "p" * 1_000_000),))),
        ("header-non-ascii-other", Web((202,), extra=(("X-Name", "ü²"),))),
    ]


# pytest.param is a tuple too: only plain pairs are turned into params.
WEB_CASES = [pytest.param(c[1], id=c[0]) if type(c) is tuple else c
             for c in web_cases()]


def web_environ(case: Web, now: float) -> dict[str, Any]:
    env: dict[str, Any] = {"REQUEST_METHOD": case.method,
                           "PATH_INFO": case.path,
                           "REMOTE_ADDR": "127.0.0.1",
                           "wsgi.input": io.BytesIO(case.body)}
    if case.length is AUTO:
        env["CONTENT_LENGTH"] = str(len(case.body))
    elif case.length is not None:
        env["CONTENT_LENGTH"] = case.length
    if case.content_type is not None:
        env["CONTENT_TYPE"] = case.content_type
    headers = sign(SECRET, case.body, now)
    stamp = headers["X-Selfheal-Timestamp"]
    signature = headers["X-Selfheal-Signature"]
    if case.sign_ts is not None:
        stamp, signature = case.sign_ts, raw_signature(case.body,
                                                       case.sign_ts)
    for key, given, value in (("HTTP_X_SELFHEAL_TIMESTAMP", case.ts, stamp),
                              ("HTTP_X_SELFHEAL_SIGNATURE", case.sig,
                               signature)):
        if given != DROP:
            env[key] = value if given is None else given
    for name, value in case.extra:
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def wsgi(app, env) -> tuple[int, dict]:
    seen: list[str] = []
    chunks = app(env, lambda status, headers: seen.append(status))
    document = json.loads(b"".join(chunks))
    assert isinstance(document, dict)
    return int(seen[0].split()[0]), document


@pytest.fixture
def webhook(conf):
    sink, counters = RecordingSink(), Counters()
    app = WebhookApp(sink, conf, clock=FakeClock(NOW), counters=counters)
    return app, sink, counters


@pytest.mark.parametrize("case", WEB_CASES)
def test_bad_webhook_request(webhook, case) -> None:
    app, sink, counters = webhook
    status, document = wsgi(app, web_environ(case, NOW))
    assert status in case.statuses, document
    refused = counters.get(UNAUTHENTICATED_COUNTER)
    if status in (401, 413) or (status == 400 and case.reason is None):
        # Before the signature: counted, never a ledger row.
        assert refused == 1
        assert not sink.rejects and not sink.requests
        assert document["outcome"] == "refused" and document["error"]
    elif case.reason is not None:
        assert refused == 0
        [(reason, detail, source)] = sink.rejects
        assert reason is case.reason, detail
        assert document["outcome"] == "rejected"
        assert f"reject/{reason.value}" in document["decisions"][0]
        assert len(detail) < 1000
    elif status in (404, 405, 415):
        assert not sink.rejects and not sink.requests
        assert document.get("error")
    else:
        assert (status, document["outcome"]) == (202, "submitted")
    # Alive, and the next valid heal is taken.
    after = json.dumps({"notification": ACTIVATE,
                        "payload": good("after")}).encode()
    status, document = wsgi(app, web_environ(Web((202,), after), NOW))
    assert (status, document["outcome"]) == (202, "submitted")
    assert sink.requests[-1].unit.resource_name == "after"


def test_replayed_request_is_refused_second_time(webhook) -> None:
    app, sink, counters = webhook
    case = Web((202,))
    assert wsgi(app, web_environ(case, NOW))[0] == 202
    status, document = wsgi(app, web_environ(case, NOW))
    assert (status, document["outcome"]) == (409, "replayed")
    assert counters.get("webhook.replayed") == 1
    assert len(sink.requests) == 1
