"""Properties of the ingest over generated input: whatever arrives, the
parser answers (never raises) and what it accepts can be stored; the time
reader reads what Vitrage writes; the webhook answers every request with
one of its statuses and a JSON body."""

from __future__ import annotations

import datetime
import io
import json
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.unit.test_ingest_parse import (
    ROOT,
    STACK,
    RecordingSink,
    alarm_payload,
    unit_vertex,
)
from vitrage_selfheal import limits
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.parse import (
    ALARM_EVENTS,
    EXECUTE_EXTERNAL_ACTION,
    OTHER_VITRAGE_EVENTS,
    Ignored,
    Rejection,
    parse_external_action,
    parse_graph_event,
)
from vitrage_selfheal.ingest.timestamps import epoch_of
from vitrage_selfheal.ingest.webhook import (
    HEALTH_PATH,
    NOTIFICATIONS_PATH,
    WebhookApp,
    sign,
)
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import HealRequest, Reason

# No example database: a run writes nothing into the working tree.
BOUNDED = settings(max_examples=200, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow,
                                          HealthCheck.data_too_large])
SECRET = "property-secret"
NOW = 1_800_000_000.0
WORKFLOW = "selfheal.heal_units"

# Read-only: built once, not a fixture (Hypothesis runs many examples per
# test and a function-scoped fixture would be shared between them anyway).
CONF = ingest_opts.load([])
CONF.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
CONF.set_override("max_body", 64 * 1024, group=ingest_opts.WEBHOOK_GROUP)

# --- strategies ----------------------------------------------------------

# Lone surrogates too: JSON's '\ud800' decodes to one.
CHARS = st.one_of(st.characters(), st.characters(categories=["Cs"]))
ODD = st.sampled_from([
    "", " ", "\x00", "\ud800", "\udfff", "²", "٣", "/", "//", "a/b/c",
    "get_attr(", "get_attr(server, id)", "selfheal.heal", "selfheal.heal ",
    "selfheal.suppress x", "heat.unit", "x" * 65, "x" * 256, "x" * 301,
    "9" * 20, "-1", "1e3", "NaN", "2026-11-25 10:00:00", ROOT, STACK,
])
TEXT = st.one_of(st.text(CHARS, max_size=12), ODD)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(),
                   st.floats(allow_nan=True, allow_infinity=True), TEXT)
JSON_LIKE = st.recursive(
    SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                    st.dictionaries(TEXT, inner,
                                                    max_size=4)),
    max_leaves=20)
IDS = st.builds(lambda a, b, c: f"{a}/{b}/{c}", TEXT, TEXT, TEXT)
FIELD = st.one_of(JSON_LIKE, IDS, st.sampled_from([ROOT, STACK, "m0"]))
UNIT_KEYS = ["id", "root_stack_id", "stack_id", "resource_name",
             "physical_id", "group", "group_size", "vitrage_type"]
ALARM_KEYS = ["name", "vitrage_type", "update_timestamp", "vitrage_id",
              "extra"]
EVENTS = st.one_of(st.sampled_from(sorted(ALARM_EVENTS) +
                                   sorted(OTHER_VITRAGE_EVENTS) +
                                   [EXECUTE_EXTERNAL_ACTION]),
                   JSON_LIKE)


@st.composite
def near_valid_alarm(draw) -> dict:
    """A real alarm with some of its fields (and its unit's) replaced."""
    resource = unit_vertex()
    for key in draw(st.sets(st.sampled_from(UNIT_KEYS), max_size=4)):
        resource[key] = draw(FIELD)
    name = draw(st.one_of(st.sampled_from(["selfheal.heal x",
                                           "selfheal.suppress y"]), TEXT))
    payload = alarm_payload(name, resource=resource)
    for key in draw(st.sets(st.sampled_from(ALARM_KEYS), max_size=3)):
        payload[key] = draw(FIELD)
    if draw(st.booleans()):
        payload["resource"] = draw(JSON_LIKE)
    return payload


@st.composite
def near_valid_action(draw) -> dict:
    given = {key: draw(FIELD) for key in draw(st.sets(st.sampled_from(
        ["unit_id", "root_stack_id", "stack_id", "resource_name",
         "physical_id", "group_size", "alarm_name", "x"]), max_size=5))}
    if draw(st.booleans()):
        given["unit_id"] = f"{ROOT}/{STACK}/{draw(TEXT)}"
    action = {"workflow": draw(st.one_of(st.just(WORKFLOW), JSON_LIKE)),
              "input": draw(st.one_of(st.just(given), JSON_LIKE))}
    if draw(st.booleans()):
        del action[draw(st.sampled_from(["workflow", "input"]))]
    return action


PAYLOADS = st.one_of(JSON_LIKE, near_valid_alarm(), near_valid_action())


def check_parsed(got) -> None:
    assert isinstance(got, (HealRequest, Rejection, Ignored)), got
    if isinstance(got, HealRequest):
        assert limits.request_problem(got) is None, got
    elif isinstance(got, Rejection):
        assert isinstance(got.reason, Reason)
        assert "internal error" not in got.detail
        assert limits.check_text("detail", limits.storable(got.detail),
                                 limits.DETAIL) is None
    else:
        assert isinstance(got.detail, str)


# --- the parser ------------------------------------------------------------

@BOUNDED
@given(event=EVENTS, payload=PAYLOADS)
def test_parse_graph_event_answers_anything(event, payload) -> None:
    check_parsed(parse_graph_event(event, payload, "webhook", CONF))


@BOUNDED
@given(payload=st.one_of(near_valid_action(), JSON_LIKE))
def test_parse_external_action_answers_anything(payload) -> None:
    check_parsed(parse_external_action(payload, "webhook", CONF))


@BOUNDED
@given(payload=near_valid_alarm())
def test_accepted_alarms_pass_the_limits(payload) -> None:
    got = parse_graph_event("vitrage.deduced_alarm.activate", payload,
                            "webhook", CONF)
    check_parsed(got)
    if isinstance(got, HealRequest):
        # A time read, or none given, or one unreadable and said so.
        plain = got.detail == "vitrage.deduced_alarm.activate"
        if got.event_time is not None or \
                payload.get("update_timestamp") is None:
            assert plain, got.detail
        else:
            assert got.detail.endswith("unreadable; arrival order used")


# --- update_timestamp --------------------------------------------------------

MOMENTS = st.datetimes(min_value=datetime.datetime(1, 1, 2),
                       max_value=datetime.datetime(9999, 12, 30))


def utc_epoch(moment: datetime.datetime) -> float:
    return (moment.replace(tzinfo=datetime.timezone.utc) -
            datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
            ).total_seconds()


@BOUNDED
@given(moment=MOMENTS)
def test_what_vitrage_writes_is_read_back(moment) -> None:
    want = utc_epoch(moment)
    # str(datetime): Vitrage's own format, microseconds only if non-zero.
    assert epoch_of(str(moment)) == want
    assert epoch_of(moment.isoformat()) == want
    assert epoch_of(moment.isoformat() + "Z") == want
    assert epoch_of(moment.isoformat() + "+00:00") == want


@BOUNDED
@given(moment=MOMENTS, minutes=st.integers(-23 * 60 - 59, 23 * 60 + 59))
def test_offsets_are_applied(moment, minutes) -> None:
    zone = datetime.timezone(datetime.timedelta(minutes=minutes))
    aware = moment.replace(tzinfo=zone)
    got = epoch_of(aware.isoformat())
    # Within float rounding (far below a microsecond): the two sides
    # subtract in different orders.
    assert got == pytest.approx(utc_epoch(moment) - minutes * 60, abs=1e-7)


@BOUNDED
@given(value=st.one_of(JSON_LIKE, st.text(CHARS),
                       st.text(string.digits + "-:. TZ+", max_size=40)))
def test_any_timestamp_is_read_or_refused(value) -> None:
    got = epoch_of(value)
    assert got is None or (isinstance(got, float) and got == got
                           and abs(got) < 1e12)


# --- the webhook -------------------------------------------------------------

STATUSES = {202, 400, 401, 404, 405, 413, 415, 503}
# Header values are str in WSGI (latin-1 decoded bytes in a real server).
HEADER = st.one_of(st.none(), st.text(CHARS, max_size=30), ODD,
                   st.integers(0, 2 * 10**9).map(str))
LENGTH = st.one_of(st.none(), HEADER, st.integers(-5, 10**6).map(str))
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_LIKE.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda event, payload: json.dumps(
        {"notification": event, "payload": payload}).encode(),
        EVENTS, PAYLOADS))
# Digits int() refuses though str.isdigit() says yes ('²', '①'): 401,
# never a 500 (a property of their own below).
NOT_DIGITS = {chr(c) for c in range(0x110000)
              if chr(c).isdigit() and not chr(c).isdecimal()}


def clean_stamp(value) -> bool:
    return value is None or not NOT_DIGITS & set(value)


def answer(body: bytes, method: str, path: str, ts, sig, length,
           content_type, signed: bool) -> tuple[int, dict]:
    app = WebhookApp(RecordingSink(), CONF, clock=FakeClock(NOW),
                     counters=Counters())
    env = {"REQUEST_METHOD": method, "PATH_INFO": path,
           "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO(body)}
    if signed:
        headers = sign(SECRET, body, NOW)
        ts, sig = headers["X-Selfheal-Timestamp"], \
            headers["X-Selfheal-Signature"]
        length = str(len(body))
    for key, value in (("HTTP_X_SELFHEAL_TIMESTAMP", ts),
                       ("HTTP_X_SELFHEAL_SIGNATURE", sig),
                       ("CONTENT_LENGTH", length),
                       ("CONTENT_TYPE", content_type)):
        if value is not None:
            env[key] = value
    seen: list[str] = []
    chunks = app(env, lambda status, headers: seen.append(status))
    document = json.loads(b"".join(chunks))
    return int(seen[0].split()[0]), document


REQUESTS = dict(
    body=BODIES,
    method=st.one_of(st.just("POST"), st.sampled_from(["GET", "PUT", ""]),
                     st.text(max_size=6)),
    path=st.one_of(st.just(NOTIFICATIONS_PATH), st.just(HEALTH_PATH),
                   st.text(max_size=20)),
    sig=HEADER, length=LENGTH,
    content_type=st.one_of(st.none(), st.just("application/json"),
                           HEADER),
    signed=st.booleans())


@BOUNDED
@given(ts=HEADER, **REQUESTS)
def test_webhook_answers_every_request(body, method, path, ts, sig, length,
                                       content_type, signed) -> None:
    status, document = answer(body, method, path, ts, sig, length,
                              content_type, signed)
    allowed = STATUSES | ({200} if path == HEALTH_PATH else set())
    assert status in allowed, (status, document)
    assert isinstance(document, dict)


@settings(max_examples=50, deadline=None, database=None)
@example(body=b"{}", ts="²")
@given(body=BODIES,
       ts=st.sampled_from(sorted(NOT_DIGITS)).map(lambda d: d * 10))
def test_webhook_refuses_digits_int_cannot_read(body, ts) -> None:
    status, _ = answer(body, "POST", NOTIFICATIONS_PATH, ts,
                       "sha256=" + "0" * 64, str(len(body)),
                       "application/json", False)
    assert status == 401
