"""Nothing lost, nothing twice at the door: replayed deliveries, events out
of order, a ledger outage, values the database cannot store.

The real Healer on a SQLite ledger behind the real WSGI app; the clock is
fake, so nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest

from tests.unit.fakes import RecordingDispatcher, make_healer, request, unit
from tests.unit.test_ingest_parse import UNIT_ID, alarm_payload
from tests.unit.test_ingest_webhook import SECRET, call, signed
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.errors import NotRecorded
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.webhook import NOTIFICATIONS_PATH, WebhookApp
from vitrage_selfheal.ledger.spool import Spool
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import Action, Reason, Unit

ACTIVATE = "vitrage.deduced_alarm.activate"
DEACTIVATE = "vitrage.deduced_alarm.deactivate"


@pytest.fixture
def clock():
    return FakeClock(1_800_000_000.0)


@pytest.fixture
def dispatcher():
    return RecordingDispatcher()


@pytest.fixture
def healer(tmp_path, clock, dispatcher):
    return make_healer(tmp_path, Policy(cooldown=30.0, unit_grace=0.0),
                       clock=clock, dispatcher=dispatcher)


@pytest.fixture
def conf():
    conf = ingest_opts.load([])
    conf.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
    return conf


def receiver(healer, conf, clock) -> WebhookApp:
    return WebhookApp(healer, conf, clock=clock, counters=Counters())


def captured(event: str, at: float) -> tuple[bytes, dict[str, str]]:
    """A signed request as it crossed the wire: an attacker may keep it."""
    # Vitrage stamps each change of the alarm with its own clock.
    stamp = datetime.datetime.fromtimestamp(
        at, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    body = json.dumps({"notification": event,
                       "payload": alarm_payload(update_timestamp=stamp)
                       }).encode()
    return body, signed(body, at)


def reasons(healer) -> list[str]:
    with healer.ledger.transaction() as tx:
        return [r.reason for r in tx.decisions()]


def run(healer, clock, seconds: float, dispatcher=None) -> None:
    for _ in range(int(seconds)):
        clock.advance(1.0)
        healer.tick()
        if dispatcher is not None:
            dispatcher.finish_all()


def healed_once(healer, clock, dispatcher) -> None:
    run(healer, clock, 10, dispatcher)
    assert len(dispatcher.starts) == 1
    assert "EXECUTION_SUCCEEDED" in reasons(healer)


# --- 1. replay inside the allowed clock skew --------------------------------

def test_replayed_activate_after_heal_and_cooldown_heals_nothing(
        healer, conf, clock, dispatcher) -> None:
    app = receiver(healer, conf, clock)
    body, headers = captured(ACTIVATE, clock.now())
    assert call(app, "POST", NOTIFICATIONS_PATH, body, headers)[0] == 202
    healed_once(healer, clock, dispatcher)
    clear, clear_headers = captured(DEACTIVATE, clock.now())
    assert call(app, "POST", NOTIFICATIONS_PATH, clear, clear_headers)[0] \
        == 202
    run(healer, clock, 60)       # past the 30 s cooldown, inside the skew
    status, document = call(app, "POST", NOTIFICATIONS_PATH, body, headers)
    assert (status, document["outcome"]) == (409, "replayed")
    run(healer, clock, 10, dispatcher)
    assert len(dispatcher.starts) == 1
    assert app.counters.snapshot()["webhook.replayed"] == 1


def test_replayed_deactivate_does_not_cancel_a_queued_heal(
        healer, conf, clock, dispatcher) -> None:
    app = receiver(healer, conf, clock)
    # An earlier incident on the same alarm, captured by the attacker.
    first, first_headers = captured(ACTIVATE, clock.now())
    call(app, "POST", NOTIFICATIONS_PATH, first, first_headers)
    healed_once(healer, clock, dispatcher)
    clear, clear_headers = captured(DEACTIVATE, clock.now())
    call(app, "POST", NOTIFICATIONS_PATH, clear, clear_headers)
    run(healer, clock, 40)
    # A real new incident, queued (inside its coalescing window)...
    again, again_headers = captured(ACTIVATE, clock.now())
    assert call(app, "POST", NOTIFICATIONS_PATH, again, again_headers)[0] \
        == 202
    # ...and the captured clear, replayed: Vitrage keeps the alarm active
    # and would never send it again, so cancelling here would lose it.
    assert call(app, "POST", NOTIFICATIONS_PATH, clear, clear_headers)[0] \
        == 409
    run(healer, clock, 10, dispatcher)
    assert len(dispatcher.starts) == 2


def test_replay_cache_survives_a_restart(tmp_path, conf, clock,
                                         dispatcher) -> None:
    first = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    body, headers = captured(ACTIVATE, clock.now())
    assert call(receiver(first, conf, clock), "POST", NOTIFICATIONS_PATH,
                body, headers)[0] == 202
    first.locks.stop()
    clock.advance(5)
    restarted = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    assert call(receiver(restarted, conf, clock), "POST",
                NOTIFICATIONS_PATH, body, headers)[0] == 409


def test_authenticated_malformed_request_replayed_writes_no_second_row(
        healer, conf, clock) -> None:
    app = receiver(healer, conf, clock)
    body = b"[]"
    headers = signed(body, clock.now())
    assert call(app, "POST", NOTIFICATIONS_PATH, body, headers)[0] == 400
    for _ in range(50):
        assert call(app, "POST", NOTIFICATIONS_PATH, body, headers)[0] == 409
    assert reasons(healer) == ["MALFORMED"]


def test_expired_deliveries_are_forgotten(healer, conf, clock) -> None:
    app = receiver(healer, conf, clock)
    body, headers = captured(ACTIVATE, clock.now())
    call(app, "POST", NOTIFICATIONS_PATH, body, headers)
    run(healer, clock, 700)       # past 2 x max_skew
    with healer.ledger.transaction() as tx:
        assert tx.prune_deliveries(clock.now()) == 0   # pruned by a tick
    # The replay now fails at the door: its timestamp is stale.
    assert call(app, "POST", NOTIFICATIONS_PATH, body, headers)[0] == 401


# --- events applied in the order of their Vitrage timestamps ----------------

def timed(u: Unit, active: bool, at: float):
    return dataclasses.replace(request(u, active=active), event_time=at)


def test_older_clear_never_cancels_a_newer_activation(healer, clock,
                                                      dispatcher) -> None:
    u = unit("m0")
    t = clock.now()
    healer.submit(timed(u, True, t + 2))
    [late] = healer.submit(timed(u, False, t + 1))
    assert late.reason is Reason.STALE_EVENT
    assert "older than the event already applied" in late.detail
    run(healer, clock, 5, dispatcher)
    assert len(dispatcher.starts) == 1


def test_older_activation_never_reopens_a_healed_incident(
        healer, clock, dispatcher) -> None:
    u = unit("m0")
    t = clock.now()
    healer.submit(timed(u, True, t))
    run(healer, clock, 10, dispatcher)
    healer.submit(timed(u, False, t + 20))
    run(healer, clock, 120)                       # past the cooldown
    [late] = healer.submit(timed(u, True, t + 5))
    assert late.reason is Reason.STALE_EVENT
    run(healer, clock, 10, dispatcher)
    assert len(dispatcher.starts) == 1


def test_a_resent_activation_moves_the_clock_for_a_late_clear(
        healer, clock, dispatcher) -> None:
    # active at t, cleared at t+1, active again at t+3 (re-sent); the
    # t+1 clear arriving last must not clear what Vitrage raises now.
    u = unit("m0")
    t = clock.now()
    healer.submit(timed(u, True, t))
    healer.submit(timed(u, True, t + 3))
    [late] = healer.submit(timed(u, False, t + 1))
    assert late.reason is Reason.STALE_EVENT
    run(healer, clock, 5, dispatcher)
    assert len(dispatcher.starts) == 1


def test_equal_or_missing_times_keep_arrival_order(healer, clock) -> None:
    u = unit("m0")
    t = clock.now()
    healer.submit(timed(u, True, t))
    [clear] = healer.submit(timed(u, False, t))
    assert clear.reason is Reason.ALARM_CLEARED
    healer.submit(request(u))                     # no time: applied
    [again] = healer.submit(request(u, active=False))
    assert again.reason is Reason.ALARM_CLEARED


# --- 2. a ledger outage is never acknowledged --------------------------------

def ledger_down(healer, monkeypatch) -> None:
    def down():
        raise ConnectionError("ledger down (test)")
    monkeypatch.setattr(healer.ledger, "transaction", down)


def test_ledger_outage_answers_503_and_keeps_nothing_in_memory(
        healer, conf, clock, dispatcher, monkeypatch) -> None:
    app = receiver(healer, conf, clock)
    body, headers = captured(ACTIVATE, clock.now())
    ledger_down(healer, monkeypatch)
    status, document = call(app, "POST", NOTIFICATIONS_PATH, body, headers)
    assert (status, document["outcome"]) == (503, "failed")
    assert healer.counters.snapshot()["healer.not_recorded"] == 1
    monkeypatch.undo()
    run(healer, clock, 10, dispatcher)
    assert dispatcher.starts == []                # nothing was kept
    # The sender's retry of the same signed request is not a replay:
    # the first try was never recorded.
    assert call(app, "POST", NOTIFICATIONS_PATH, body, headers)[0] == 202
    run(healer, clock, 10, dispatcher)
    assert len(dispatcher.starts) == 1


def test_spool_keeps_requests_across_a_restart_and_replays_them_in_order(
        tmp_path, clock, dispatcher, monkeypatch) -> None:
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    spool_path = str(tmp_path / "spool.jsonl")
    healer.spool = Spool(spool_path, 1 << 20)
    u = unit("m0")
    t = clock.now()
    ledger_down(healer, monkeypatch)
    assert healer.submit_or_spool(timed(u, True, t)) == []
    assert healer.submit_or_spool(timed(u, False, t + 1)) == []
    assert healer.submit_or_spool(timed(unit("m1"), True, t + 2)) == []
    monkeypatch.undo()
    healer.locks.stop()
    # The process dies; a new one finds the spool.
    restarted = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    restarted.spool = Spool(spool_path, 1 << 20)
    run(restarted, clock, 10, dispatcher)
    assert len(restarted.spool) == 0
    [(_, _, units)] = dispatcher.starts
    assert units == (unit("m1").key,)             # m0 recovered meanwhile


def test_unreadable_spool_line_is_kept_aside_not_dropped(tmp_path) -> None:
    spool = Spool(str(tmp_path / "spool.jsonl"), 1 << 20)
    spool.put(request(unit("m0")))
    with open(spool.path, "a") as f:
        f.write("{not json\n")
    spool.put(request(unit("m1")))
    stored = []
    assert spool.drain(stored.append) == 3
    assert [r.unit.resource_name for r in stored] == ["m0", "m1"]
    assert (tmp_path / "spool.jsonl.bad").read_text() == "{not json\n"


def test_spool_drain_stops_at_the_first_failure_and_keeps_the_rest(
        tmp_path) -> None:
    spool = Spool(str(tmp_path / "spool.jsonl"), 1 << 20)
    for name in ("m0", "m1", "m2"):
        spool.put(request(unit(name)))
    stored = []

    def store(req):
        if req.unit.resource_name == "m1":
            raise NotRecorded("still down")
        stored.append(req)

    with pytest.raises(NotRecorded):
        spool.drain(store)
    assert [r.unit.resource_name for r in stored] == ["m0"]
    assert len(spool) == 2


# --- 3. values the database can never store ---------------------------------

def test_poison_request_is_rejected_once_not_retried(healer, clock) -> None:
    # A lone surrogate cannot be encoded for SQLite (nor PostgreSQL).
    bad = dataclasses.replace(request(unit("m0")),
                              alarm_name="selfheal.heal \udc80")
    [decision] = healer.submit(bad)
    assert (decision.action, decision.reason) == (Action.REJECT,
                                                  Reason.INVALID_FIELD)
    assert healer.counters.snapshot()["healer.poison"] == 1
    run(healer, clock, 5)
    assert reasons(healer) == ["INVALID_FIELD"]


# --- 6. a restart does not wait out its own lease ----------------------------

def test_default_replica_id_is_stable_across_restarts() -> None:
    from vitrage_selfheal.app import load_config
    assert load_config().selfheal.replica_id == \
        load_config().selfheal.replica_id
    import socket
    assert load_config().selfheal.replica_id == socket.gethostname()


def test_unit_id_of_the_payload_is_the_one_healed(healer, conf, clock,
                                                  dispatcher) -> None:
    app = receiver(healer, conf, clock)
    body, headers = captured(ACTIVATE, clock.now())
    call(app, "POST", NOTIFICATIONS_PATH, body, headers)
    run(healer, clock, 5, dispatcher)
    [(_, root, units)] = dispatcher.starts
    assert Unit.from_vertex_id(UNIT_ID).key in units


@pytest.mark.parametrize("change", [
    {"alarm_name": "selfheal.heal \x00 nul"},
    {"alarm_name": "selfheal.heal \udc80"},
    {"alarm_name": "selfheal.heal " + "x" * 300},
    {"alarm_key": "k" * 400},
], ids=["nul", "surrogate", "long-name", "long-key"])
def test_values_postgresql_cannot_store_are_rejected_once(
        tmp_path, pg_ledger_url, change) -> None:
    clock = FakeClock(1_800_000_000.0)
    healer = make_healer(tmp_path, ledger_url=pg_ledger_url, clock=clock)
    try:
        bad = dataclasses.replace(request(unit("m0")), **change)
        [decision] = healer.submit(bad)
        assert decision.reason is Reason.INVALID_FIELD
        run(healer, clock, 5)
        assert reasons(healer) == ["INVALID_FIELD"]
        # A good request right after still heals: nothing was wedged.
        healer.submit(request(unit("m1")))
        run(healer, clock, 5)
        assert "BATCH_DISPATCHED" in reasons(healer)
    finally:
        healer.locks.stop()
        healer.ledger.dispose()


def test_an_event_time_from_the_future_is_not_believed(healer, clock,
                                                       dispatcher) -> None:
    u = unit("m0")
    t = clock.now()
    healer.submit(timed(u, True, t + 86400))      # a day ahead
    [clear] = healer.submit(timed(u, False, t + 1))
    assert clear.reason is Reason.ALARM_CLEARED
