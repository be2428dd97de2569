"""The Zaqar queue consumer (ingest/zaqar): Aodh's alarm bodies, the unit
of a server, and the claim / delete / release loop against an in-process
fake of Zaqar's v2 API (our own fake, modelled on the calls we make)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import urllib.parse
import uuid
from typing import Any, Optional

import pytest
import sqlalchemy as sa
from oslo_config import cfg

from tests.unit import fakes
from tests.unit.test_heat_unit_datasource import (
    ASG_MEMBERS,
    ASG_SERVERS,
    ASG_STACK,
    RG_SERVERS,
    RG_STACK,
    ROOT,
    FakeConnection,
    cluster_heat,
)
from tests.unit.test_ingest_parse import RecordingSink
from vitrage_selfheal import opts
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.errors import NotRecorded
from vitrage_selfheal.ingest import OutcomeKind, zaqar
from vitrage_selfheal.ingest.opts import ZAQAR_GROUP
from vitrage_selfheal.ingest.results import Ignored, Rejection
from vitrage_selfheal.ingest.zaqar import consumer as zc
from vitrage_selfheal.ingest.zaqar import parse as zp
from vitrage_selfheal.ingest.zaqar.client import (
    ZaqarClient,
    ZaqarError,
    api_root,
)
from vitrage_selfheal.ingest.zaqar.resolver import (
    ResolveLater,
    ServerUnits,
    heat_units,
)
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import HealRequest, Reason, Unit

QUEUE = "heal"
PROJECT = "p-1"
CLIENT = str(uuid.uuid4())
SERVER = "srv-1"
UNIT = Unit(ROOT, ASG_STACK, "member-a", physical_id="ps-1",
            group=ASG_STACK, group_size=3, controls="")


def aodh_body(server: str = SERVER, current: str = "alarm",
              alarm_id: str = "al-1", traits: Any = "list",
              generated: Optional[str] = "2024-05-01T10:00:00.000000"
              ) -> dict:
    pairs = [("instance_id", "string", server), ("state", "string", "error")]
    if traits == "list":
        shown: Any = [list(p) for p in pairs]
    elif traits == "dicts":
        shown = [{"name": n, "type": t, "value": v} for n, t, v in pairs]
    elif traits == "object":
        shown = {n: v for n, _t, v in pairs}
    else:
        shown = traits
    event = {"event_type": "compute.instance.update", "traits": shown,
             "message_id": "m-1"}
    if generated is not None:
        event["generated"] = generated
    return {"alarm_name": "instance_error", "alarm_id": alarm_id,
            "severity": "critical", "previous": "insufficient data",
            "current": current, "reason": "Event hits the query",
            "reason_data": {"type": "event", "event": event}}


# -- parsing -----------------------------------------------------------------
@pytest.mark.parametrize("form", ["list", "dicts", "object"])
def test_an_alarm_names_the_server_in_its_traits(form):
    read = zp.read_body(aodh_body(traits=form))
    assert read == zp.ServerAlarm(
        alarm_id="al-1", alarm_name="instance_error", server_id=SERVER,
        event_type="compute.instance.update", reason="Event hits the query",
        event_time=1714557600.0)


def test_resource_id_is_used_without_instance_id():
    body = aodh_body(traits=[["resource_id", "string", "srv-9"]])
    assert zp.read_body(body).server_id == "srv-9"


def test_a_json_encoded_body_is_read():
    assert zp.read_body(json.dumps(aodh_body())).server_id == SERVER


@pytest.mark.parametrize("state", ["ok", "insufficient data"])
def test_other_states_are_ignored(state):
    read = zp.read_body(aodh_body(current=state))
    assert isinstance(read, Ignored) and repr(state) in read.detail


@pytest.mark.parametrize("body, words", [
    ("not json {", "not JSON"),
    ([1, 2], "list, not an Aodh alarm object"),
    (None, "NoneType"),
    ({"current": "alarm"}, "no alarm_id"),
    ({**aodh_body(), "current": 3}, "no state 'current'"),
    ({**aodh_body(), "reason_data": "x"}, "reason_data is 'x'"),
    ({**aodh_body(), "reason_data": {"type": "threshold"}},
     "not an event alarm's (type 'threshold')"),
    (aodh_body(traits=[["state", "string", "error"]]),
     "no instance_id or resource_id trait (traits: ['state'])"),
    (aodh_body(traits=[["instance_id"]]), "are neither"),
    (aodh_body(traits="srv"), "are neither"),
    (aodh_body(server=""), "no instance_id or resource_id trait"),
])
def test_malformed_bodies_are_rejected_naming_the_fault(body, words):
    read = zp.read_body(body)
    assert isinstance(read, Rejection) and read.reason is Reason.MALFORMED
    assert words in read.detail


def test_an_unreadable_time_leaves_arrival_order():
    assert zp.read_body(aodh_body(generated="yesterday")).event_time is None


def test_the_request_heals_the_unit_and_repeats_share_one_key():
    alarm = zp.read_body(aodh_body())
    first, again = zp.heal_request(alarm, UNIT), zp.heal_request(
        zp.read_body(aodh_body()), UNIT)
    assert isinstance(first, HealRequest) and first == again
    assert first.unit == UNIT and first.source == "zaqar" and first.active
    assert first.alarm_key == f"zaqar:al-1:{SERVER}@{UNIT.vertex_id}"
    assert "instance_error" in first.detail and SERVER in first.detail
    # The replacement server's fault is a new incident of the unit.
    other = zp.heal_request(zp.read_body(aodh_body(server="srv-2")), UNIT)
    assert other.alarm_key != first.alarm_key


def test_a_request_the_ledger_cannot_store_is_rejected():
    alarm = dataclasses.replace(zp.read_body(aodh_body()),
                                alarm_name="x" * 1000)
    parsed = zp.heal_request(alarm, UNIT)
    assert isinstance(parsed, Rejection)
    assert parsed.reason is Reason.INVALID_FIELD


# -- a fake Zaqar ------------------------------------------------------------
class Answer:
    def __init__(self, status: int, body: Any = None) -> None:
        self.status_code = status
        self.text = "" if body is None else json.dumps(body)
        self.headers: dict[str, str] = {}

    def json(self) -> Any:
        return json.loads(self.text)


class FakeZaqar:
    """Zaqar v2 claims as we use them: a claim takes unclaimed messages in
    order; a delete needs the message's claim; a release frees them."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.messages: dict[str, list[dict]] = {}
        self.claimed: dict[str, str] = {}  # message id -> claim id
        self.down = False
        self.calls: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    def post(self, queue: str, body: Any) -> str:
        mid = f"m{next(self._ids)}"
        self.messages.setdefault(queue, []).append(
            {"id": mid, "body": body, "posted": self.clock.now()})
        return mid

    def left(self, queue: str = QUEUE) -> list[str]:
        return [m["id"] for m in self.messages.get(queue, [])]

    def request(self, url: str, method: str, headers: dict,
                timeout: float, json: Any = None) -> Answer:
        if self.down:
            raise ConnectionRefusedError("connection refused (test)")
        assert headers["Client-ID"] == CLIENT
        assert headers["X-Project-ID"] == PROJECT
        parts = urllib.parse.urlparse(url)
        query = urllib.parse.parse_qs(parts.query)
        path = parts.path.split("/")
        assert path[:3] == ["", "v2", "queues"], url
        queue, what = path[3], path[4]
        self.calls.append((method, "/".join(path[4:])))
        listed = self.messages.setdefault(queue, [])
        if method == "POST" and what == "claims":
            assert json["grace"] >= 60
            claim = f"c{next(self._ids)}"
            free = [m for m in listed if m["id"] not in self.claimed]
            taken = free[:int(query["limit"][0])]
            if not taken:
                return Answer(204)
            for m in taken:
                self.claimed[m["id"]] = claim
            return Answer(201, {"messages": [
                {"id": m["id"], "body": m["body"], "ttl": 3600,
                 "age": self.clock.now() - m["posted"],
                 "href": f"/v2/queues/{queue}/messages/{m['id']}"
                         f"?claim_id={claim}"} for m in taken]})
        if method == "DELETE" and what == "messages":
            mid = path[5]
            if self.claimed.get(mid) != query["claim_id"][0]:
                return Answer(403, {"title": "claim mismatch"})
            listed[:] = [m for m in listed if m["id"] != mid]
            del self.claimed[mid]
            return Answer(204)
        if method == "DELETE" and what == "claims":
            for mid in [m for m, c in self.claimed.items() if c == path[5]]:
                del self.claimed[mid]
            return Answer(204)
        return Answer(404)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    return FakeZaqar(clock)


@pytest.fixture
def client(fake):
    return ZaqarClient(fake, "http://127.0.0.1:8888", PROJECT, CLIENT)


# -- the client --------------------------------------------------------------
@pytest.mark.parametrize("given", ["http://z:8888", "http://z:8888/",
                                   "http://z:8888/v2", "http://z:8888/v1.1"])
def test_the_api_root_has_one_version(given):
    assert api_root(given) == "http://z:8888/v2"


def test_claim_delete_release(client, fake):
    assert client.claim(QUEUE, 5, 300, 60) == []
    fake.post(QUEUE, {"a": 1})
    fake.post(QUEUE, {"a": 2})
    first, second = client.claim(QUEUE, 5, 300, 60)
    assert first.body == {"a": 1} and first.claim_id == second.claim_id
    client.delete(QUEUE, first.id, first.claim_id)
    client.release(QUEUE, second.claim_id)
    assert fake.left() == [second.id] and not fake.claimed


def test_errors_name_the_call(client, fake):
    fake.post(QUEUE, {})
    (message,) = client.claim(QUEUE, 1, 300, 60)
    with pytest.raises(ZaqarError) as refused:
        client.delete(QUEUE, message.id, "wrong-claim")
    assert refused.value.status == 403 and refused.value.method == "DELETE"
    assert f"/v2/queues/{QUEUE}/messages/{message.id}" in refused.value.url
    fake.down = True
    with pytest.raises(ZaqarError, match="unreachable") as down:
        client.claim(QUEUE, 1, 300, 60)
    assert down.value.status is None


def test_a_claimed_message_without_a_claim_id_is_an_error():
    class Odd:
        def request(self, **kw):
            return Answer(201, [{"id": "m1", "body": {}, "href": "/x"}])
    with pytest.raises(ZaqarError, match="names no claim_id"):
        ZaqarClient(Odd(), "http://z", PROJECT, CLIENT).claim(QUEUE, 1, 60,
                                                              60)


# -- the resolver ------------------------------------------------------------
class Reads:
    """Heat's units as the driver reads them; counts the reads."""

    def __init__(self, units: dict[str, Unit]) -> None:
        self.units = dict(units)
        self.n = 0
        self.error: Optional[Exception] = None

    def __call__(self) -> list[dict]:
        self.n += 1
        if self.error is not None:
            raise self.error
        return [{"root_stack_id": u.root_stack_id, "stack_id": u.stack_id,
                 "resource_name": u.resource_name,
                 "physical_id": u.physical_id, "group": u.group,
                 "group_size": u.group_size, "selfheal_controls": "",
                 "server_ids": [s]} for s, u in self.units.items()]


def test_hits_are_served_from_the_cache_until_the_ttl(clock):
    reads = Reads({SERVER: UNIT})
    units = ServerUnits(reads, clock, ttl=60, min_interval=10,
                        counters=Counters())
    for _ in range(20):
        assert units.resolve(SERVER, clock.now()) == UNIT
    assert reads.n == 1
    clock.advance(61)
    assert units.resolve(SERVER, clock.now()) == UNIT and reads.n == 2


def test_a_miss_is_final_only_after_a_read_newer_than_the_message(clock):
    reads = Reads({SERVER: UNIT})
    units = ServerUnits(reads, clock, ttl=60, min_interval=10,
                        counters=Counters())
    assert units.resolve("srv-x", clock.now() - 5) is None
    assert reads.n == 1
    # Posted after the last read, which was just now: wait for the next.
    clock.advance(2)
    with pytest.raises(ResolveLater, match="read again in 8 s"):
        units.resolve("srv-new", clock.now() - 1)
    # A storm of them does not read Heat again.
    for _ in range(50):
        with pytest.raises(ResolveLater):
            units.resolve("srv-new", clock.now() - 1)
    assert reads.n == 1
    clock.advance(10)
    reads.units["srv-new"] = UNIT
    assert units.resolve("srv-new", clock.now() - 1) == UNIT
    assert reads.n == 2


def test_heat_down_postpones_misses_and_keeps_hits(clock):
    counters = Counters()
    reads = Reads({SERVER: UNIT})
    units = ServerUnits(reads, clock, ttl=60, min_interval=10,
                        counters=counters)
    reads.error = RuntimeError("heat down")
    with pytest.raises(ResolveLater, match="heat down"):
        units.resolve(SERVER, clock.now())
    reads.error = None
    clock.advance(10)
    assert units.resolve(SERVER, clock.now()) == UNIT
    reads.error = RuntimeError("heat down again")
    clock.advance(60)
    # Stale, but a server's unit does not change.
    assert units.resolve(SERVER, clock.now()) == UNIT
    assert counters.get("zaqar.resolver.read_failed") == 2


def test_heat_units_reads_through_the_heat_unit_driver(clock):
    heat = cluster_heat()
    conn = FakeConnection(heat)
    conn.compute.down = True   # Nova is not asked at all
    units = ServerUnits(heat_units(conn, counters=Counters()), clock)
    unit = units.resolve(ASG_SERVERS[1], clock.now())
    assert (unit.root_stack_id, unit.stack_id, unit.resource_name) == (
        ROOT, ASG_STACK, ASG_MEMBERS[1])
    assert unit.group_size == 3 and unit.controls == ""
    rg = units.resolve(RG_SERVERS[0], clock.now())
    assert (rg.stack_id, rg.resource_name) == (RG_STACK, "0")
    assert units.resolve("srv-nobody", clock.now() - 1) is None


# -- the consumer ------------------------------------------------------------
def consumer_for(client, sink, clock, units=None, **kw) -> zc.ZaqarConsumer:
    resolver = ServerUnits(Reads(units if units is not None
                                 else {SERVER: UNIT}), clock, ttl=60,
                           min_interval=10, counters=Counters())
    kw.setdefault("counters", Counters())
    return zc.ZaqarConsumer(client, [QUEUE], sink, resolver, clock=clock,
                            batch=kw.pop("batch", 10), poll_interval=5,
                            max_backoff=60, failing_limit=30, **kw)


def test_a_heal_is_submitted_then_deleted(client, fake, clock):
    sink = RecordingSink()
    fake.post(QUEUE, aodh_body())
    loop = consumer_for(client, sink, clock)
    assert loop.poll() == 5
    (request,) = sink.requests
    assert request.unit == UNIT and request.source == "zaqar"
    assert fake.left() == []
    assert loop.counters.get(zc.counter(OutcomeKind.SUBMITTED)) == 1


def test_ok_is_ignored_and_deleted(client, fake, clock):
    sink = RecordingSink()
    fake.post(QUEUE, aodh_body(current="ok"))
    loop = consumer_for(client, sink, clock)
    loop.poll()
    assert sink.requests == [] and sink.rejects == [] and fake.left() == []
    assert loop.counters.get(zc.counter(OutcomeKind.IGNORED)) == 1


def test_poison_is_rejected_deleted_and_counted(client, fake, clock):
    sink = RecordingSink()
    poison = fake.post(QUEUE, "{{not json")
    fake.post(QUEUE, 42)
    fake.post(QUEUE, aodh_body())
    loop = consumer_for(client, sink, clock)
    loop.poll()
    assert [r[0] for r in sink.rejects] == [Reason.MALFORMED] * 2
    assert poison in sink.rejects[0][1] and "not JSON" in sink.rejects[0][1]
    assert len(sink.requests) == 1 and fake.left() == []
    assert loop.counters.get(zc.POISON) == 2
    assert loop.counters.get(zc.counter(OutcomeKind.REJECTED)) == 2


def test_a_server_no_unit_has_is_unknown_unit(client, fake, clock):
    sink = RecordingSink()
    fake.post(QUEUE, aodh_body(server="srv-orphan"))
    clock.advance(1)
    consumer_for(client, sink, clock).poll()
    ((reason, detail, source),) = sink.rejects
    assert reason is Reason.UNKNOWN_UNIT and source == "zaqar"
    assert "srv-orphan" in detail and "no unit" in detail
    assert fake.left() == []


def test_not_recorded_leaves_it_in_the_queue_and_backs_off(client, fake,
                                                           clock):
    sink = RecordingSink(fail=True)
    ids = [fake.post(QUEUE, aodh_body(alarm_id=f"al-{n}")) for n in range(3)]
    loop = consumer_for(client, sink, clock)
    assert loop.poll() == 10
    # Nothing deleted, the claim released at once: redelivered, in order.
    assert fake.left() == ids and not fake.claimed
    assert ("DELETE", "messages/m1") not in fake.calls
    assert loop.counters.get(zc.counter(OutcomeKind.FAILED)) == 1
    assert loop.counters.get(zc.RELEASED) == 1
    assert loop.poll() == 20
    sink.fail = False
    assert loop.poll() == 5
    assert [r.alarm_key.split(":")[1] for r in sink.requests] == [
        "al-0", "al-1", "al-2"]
    assert fake.left() == []


def test_the_batch_stops_at_the_first_failure(client, fake, clock):
    class FailsSecond(RecordingSink):
        def submit(self, request):
            if len(self.requests) == 1:
                raise NotRecorded("ledger gone (test)")
            return super().submit(request)

    sink = FailsSecond()
    ids = [fake.post(QUEUE, aodh_body(alarm_id=f"al-{n}")) for n in range(3)]
    consumer_for(client, sink, clock).poll()
    assert len(sink.requests) == 1 and fake.left() == ids[1:]
    assert not fake.claimed


def test_a_unit_not_known_yet_waits_in_the_queue(client, fake, clock):
    sink = RecordingSink()
    units = {SERVER: UNIT}
    loop = consumer_for(client, sink, clock, units=units)
    fake.post(QUEUE, aodh_body())
    loop.poll()                       # reads Heat
    clock.advance(1)
    new = fake.post(QUEUE, aodh_body(server="srv-new"))
    assert loop.poll() == 10          # posted after that read: later
    assert fake.left() == [new] and sink.rejects == []
    assert loop.counters.get(zc.RESOLVE_LATER) == 1
    clock.advance(10)
    loop.resolver._read.units["srv-new"] = UNIT
    loop.poll()
    assert fake.left() == [] and len(sink.requests) == 2


def test_a_full_batch_is_followed_at_once(client, fake, clock):
    for n in range(4):
        fake.post(QUEUE, aodh_body(alarm_id=f"al-{n}"))
    loop = consumer_for(client, RecordingSink(), clock, batch=2)
    assert loop.poll() == 0 and loop.poll() == 0 and loop.poll() == 5
    assert fake.left() == []


def test_zaqar_down_is_counted_backed_off_and_reported(client, fake, clock):
    loop = consumer_for(client, RecordingSink(), clock)
    fake.down = True
    delays = []
    for _ in range(5):
        delays.append(loop.poll())
        clock.advance(delays[-1])
    assert delays == [10, 20, 40, 60, 60]
    assert loop.counters.get(zc.UNREACHABLE) == 5
    problem = loop.problem()
    assert problem.startswith("zaqar unreachable for ")
    assert "connection refused" in problem
    fake.down = False
    assert loop.poll() == 5 and loop.problem() is None


def test_an_ack_that_fails_is_counted_and_redelivered_as_duplicate(
        client, fake, clock, tmp_path):
    healer = fakes.make_healer(tmp_path, clock=clock)
    fake.post(QUEUE, aodh_body())
    loop = consumer_for(client, healer, clock)
    real_delete = client.delete

    def lost(*args):
        raise ZaqarError("DELETE", "u", 503, "busy")
    client.delete = lost
    loop.poll()
    assert loop.counters.get(zc.ACK_FAILED) == 1
    fake.claimed.clear()              # the claim expired
    client.delete = real_delete
    loop.poll()
    assert fake.left() == []
    assert loop.counters.get(zc.counter(OutcomeKind.SUBMITTED)) == 2


def test_twenty_repeats_heal_the_unit_once(client, fake, clock, tmp_path):
    healer = fakes.make_healer(tmp_path, clock=clock)
    decisions = []
    healer.observer = decisions.append
    for _ in range(20):
        fake.post(QUEUE, aodh_body())
    loop = consumer_for(client, healer, clock)
    while fake.left():
        loop.poll()
        clock.advance(1)
    reasons = [d.reason for d in decisions]
    assert reasons.count(Reason.FIRST_HEAL) == 1
    assert reasons.count(Reason.DUPLICATE) == 19
    assert loop.counters.get(zc.counter(OutcomeKind.SUBMITTED)) == 20


def test_unknown_units_are_ledger_rows(client, fake, clock, tmp_path):
    healer = fakes.make_healer(tmp_path, clock=clock)
    fake.post(QUEUE, aodh_body(server="srv-orphan"))
    fake.post(QUEUE, "poison")
    clock.advance(1)
    consumer_for(client, healer, clock).poll()
    with healer.ledger.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT reason, source FROM decisions")).all()
    assert sorted((r[0], r[1]) for r in rows) == [
        ("MALFORMED", "zaqar"), ("UNKNOWN_UNIT", "zaqar")]


def test_a_bug_in_a_pass_never_ends_the_thread(client, fake, clock):
    loop = consumer_for(client, RecordingSink(), clock)
    calls = []

    def broken():
        calls.append(1)
        loop._stop.set()
        raise RuntimeError("bug (test)")
    loop.poll = broken
    loop._run()
    assert calls == [1] and loop.counters.get(zc.INTERNAL_ERROR) == 1


# -- configuration -----------------------------------------------------------
def make_conf(**zaqar_opts) -> cfg.ConfigOpts:
    conf = opts.register(cfg.ConfigOpts())
    conf([], project="vitrage-selfheal", default_config_files=[])
    for name, value in zaqar_opts.items():
        conf.set_override(name, value, group=ZAQAR_GROUP)
    return conf


def test_no_queue_no_consumer():
    assert zaqar.from_conf(make_conf(), RecordingSink()) is None


def test_an_explicit_endpoint_needs_a_project():
    conf = make_conf(queues=[QUEUE], endpoint="http://127.0.0.1:8888")
    with pytest.raises(cfg.Error, match="project_id"):
        zaqar.from_conf(conf, RecordingSink(),
                        conn=FakeConnection(cluster_heat()))


def test_from_conf_builds_the_consumer():
    conf = make_conf(queues=[QUEUE, " "], endpoint="http://127.0.0.1:8888",
                     project_id=PROJECT, batch=7)
    built = zaqar.from_conf(conf, RecordingSink(),
                            conn=FakeConnection(cluster_heat()))
    assert built.queues == [QUEUE] and built.batch == 7
    assert built.client.root == "http://127.0.0.1:8888/v2"
    assert built.client.project_id == PROJECT
    # Stable per replica, a UUID as Zaqar requires.
    assert built.client.client_id == zaqar.client_id_for(conf)
    uuid.UUID(built.client.client_id)


def test_a_client_id_that_is_not_a_uuid_is_refused():
    with pytest.raises(cfg.Error, match="not a UUID"):
        zaqar.client_id_for(make_conf(client_id="me"))


def test_the_options_are_listed_for_the_generator():
    assert ZAQAR_GROUP in dict(opts.list_opts())


def test_the_app_reports_a_failing_consumer(tmp_path, client, fake, clock):
    from tests.unit.fakes import RecordingDispatcher, StackStatuses
    from vitrage_selfheal.app import App, load_config

    conf = load_config([])
    conf.set_override("state_path", str(tmp_path), group="selfheal")
    conf.set_override("ledger_url", f"sqlite:///{tmp_path}/ledger.db",
                      group="selfheal")
    app = App(conf, dispatcher=RecordingDispatcher(), status=StackStatuses(),
              clock=clock, counters=Counters())
    try:
        loop = consumer_for(client, app, clock)
        app.add_health_check(loop.problem)
        fake.post(QUEUE, aodh_body())
        loop.poll()
        app.healer.tick()
        assert app.health().ok and fake.left() == []
        fake.down = True
        loop.poll()
        clock.advance(31)
        app.healer.tick()
        (problem,) = app.health().problems
        assert problem.startswith("zaqar unreachable for 31 s")
    finally:
        app.stop()
