"""Heal lifecycle notifications on the oslo.messaging bus: a real App, a
real ledger, oslo.messaging's in-process `fake:` transport and a real
notification listener."""

from __future__ import annotations

import threading
import time

import oslo_messaging
import pytest

from tests.unit.fakes import (
    ROOT,
    RecordingDispatcher,
    StackStatuses,
    request,
    unit,
)
from vitrage_selfheal.app import App, load_config
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.dispatch.base import ExecState
from vitrage_selfheal.events import bus, lifecycle_of
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import Action, Decision, Reason

TOPIC = "selfheal_test_events"


class Collected:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, dict]] = []
        self.cond = threading.Condition()

    def _keep(self, priority, publisher_id, event_type, payload):
        with self.cond:
            self.seen.append((priority, publisher_id, event_type, payload))
            self.cond.notify_all()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep("info", publisher_id, event_type, payload)

    def warn(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep("warn", publisher_id, event_type, payload)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep("error", publisher_id, event_type, payload)

    def wait_for(self, event_type: str, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for found in self.seen:
                    if found[2] == event_type:
                        return found[3]
                left = deadline - time.monotonic()
                assert left > 0, f"no {event_type}; seen {self.seen}"
                self.cond.wait(left)


@pytest.fixture
def app_on_bus(tmp_path):
    conf = load_config([])
    conf.set_override("state_path", str(tmp_path), group="selfheal")
    conf.set_override("replica_id", "r1", group="selfheal")
    conf.set_override("inbox_max_items", 0, group="selfheal")
    bus.from_conf(conf, None, FakeClock(), "r1")   # registers the options
    conf.set_override("driver", ["messagingv2"],
                      group="oslo_messaging_notifications")
    conf.set_override("topics", [TOPIC], group="oslo_messaging_notifications")
    conf.set_override("transport_url", "fake:/",
                      group="oslo_messaging_notifications")
    clock, dispatcher = FakeClock(), RecordingDispatcher()
    collected = Collected()
    listener = oslo_messaging.get_notification_listener(
        oslo_messaging.get_notification_transport(conf),
        [oslo_messaging.Target(topic=TOPIC)], [collected],
        executor="threading")
    listener.start()
    app = App(conf, dispatcher=dispatcher, status=StackStatuses(),
              clock=clock, counters=Counters())
    try:
        yield app, clock, dispatcher, collected
    finally:
        app.stop()
        listener.stop()
        listener.wait()


def test_a_heal_is_announced_start_and_end_with_its_execution(app_on_bus):
    app, clock, dispatcher, collected = app_on_bus
    assert app.events is not None
    app.submit(request(unit("0")))
    for _ in range(4):
        clock.advance(1.0)
        app.healer.tick()
    start = collected.wait_for("selfheal.heal.start")
    execution_id = dispatcher.starts[0][0]
    assert start["unit"] == unit("0").key and start["root_stack_id"] == ROOT
    assert start["reason"] == "BATCH_DISPATCHED"
    assert start["execution_id"] == execution_id
    assert start["operation_kind"] == "heal" and start["replica"] == "r1"
    dispatcher.finish_all(ExecState.SUCCESS)
    clock.advance(1.0)
    app.healer.tick()
    end = collected.wait_for("selfheal.heal.end")
    assert end["execution_id"] == execution_id
    assert end["reason"] == "EXECUTION_SUCCEEDED"
    # The same alarm again, during the cooldown: a hold notification.
    clock.advance(10.0)
    app.submit(request(unit("0"), alarm="again"))
    held = collected.wait_for("selfheal.hold.cooldown")
    assert held["unit"] == unit("0").key and held["held_until"] > 0
    publisher = {p for _, p, _, _ in collected.seen}
    assert publisher == {"vitrage-selfheal.r1"}
    assert app.counters.get(bus.PUBLISHED) >= 3


def test_a_failed_heal_is_announced_as_an_error(app_on_bus):
    app, clock, dispatcher, collected = app_on_bus
    app.submit(request(unit("1")))
    for _ in range(4):
        clock.advance(1.0)
        app.healer.tick()
    dispatcher.finish_all(ExecState.ERROR, {"failure": {"step": "x"}})
    clock.advance(1.0)
    app.healer.tick()
    error = collected.wait_for("selfheal.heal.error")
    assert error["retrying"] is True and error["root_stack_id"] == ROOT
    assert error["reason"] == "RETRY_BACKOFF"
    assert error["execution_id"] == dispatcher.starts[0][0]
    priorities = {p for p, _, e, _ in collected.seen
                  if e == "selfheal.heal.error"}
    assert priorities == {"warn"}


def test_without_a_driver_nothing_is_published(tmp_path):
    conf = load_config([])
    conf.set_override("state_path", str(tmp_path), group="selfheal")
    app = App(conf, dispatcher=RecordingDispatcher(), status=StackStatuses(),
              clock=FakeClock(), counters=Counters())
    try:
        assert app.events is None
    finally:
        app.stop()


class SlowNotifier:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[str] = []

    def info(self, ctxt, event_type, payload):
        self.release.wait(10)
        self.sent.append(event_type)


def test_a_stuck_bus_never_holds_the_healer(tmp_path):
    counters = Counters()
    notifier = SlowNotifier()
    publisher = bus.BusPublisher(notifier, FakeClock(), "r1",
                                 lambda batch: None, counters,
                                 max_queued=2).start()
    hold = Decision(Action.HOLD, Reason.STORM_GUARD, "storm", "u", ROOT)
    started = time.monotonic()
    for _ in range(10):
        publisher(hold)
    assert time.monotonic() - started < 1.0
    # One in the publisher's hands, two queued, the rest counted.
    assert counters.get(bus.DROPPED) >= 7
    notifier.release.set()
    publisher.stop()
    assert notifier.sent and set(notifier.sent) == {
        "selfheal.hold.storm_guard"}


def test_which_decisions_make_notifications():
    def of(action, reason=Reason.FIRST_HEAL):
        found = lifecycle_of(Decision(action, reason))
        return found and (found.event_type, found.priority)
    assert of(Action.DISPATCH, Reason.BATCH_DISPATCHED) == (
        "selfheal.heal.start", "info")
    assert of(Action.SUCCEED, Reason.REMEDIATED) == (
        "selfheal.heal.end", "info")
    assert of(Action.FAIL, Reason.ESCALATED) == ("selfheal.heal.error",
                                                 "error")
    assert of(Action.HOLD, Reason.QUORUM_GUARD) == (
        "selfheal.hold.quorum_guard", "info")
    assert of(Action.ACCEPT) is None and of(Action.SKIP) is None


class PushRecorder:
    """The embedded engine's push, recorded."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, dict]] = []
        self.cond = threading.Condition()

    def push(self, event_type: str, payload: dict,
             publisher: str = "") -> int:
        with self.cond:
            self.pushed.append((event_type, payload))
            self.cond.notify_all()
        return 0


def test_into_engine_pushes_the_lifecycle_into_the_embedded_engine(
        tmp_path):
    conf = load_config([])
    conf.set_override("state_path", str(tmp_path), group="selfheal")
    conf.set_override("inbox_max_items", 0, group="selfheal")
    clock, dispatcher = FakeClock(), RecordingDispatcher()
    app = App(conf, dispatcher=dispatcher, status=StackStatuses(),
              clock=clock, counters=Counters())
    engine = PushRecorder()
    try:
        bus.into_engine(app, engine)
        app.submit(request(unit("0")))
        for _ in range(4):
            clock.advance(1.0)
            app.healer.tick()
        with engine.cond:
            engine.cond.wait_for(lambda: engine.pushed, timeout=10)
    finally:
        app.stop()
    event_type, payload = engine.pushed[0]
    assert event_type == "selfheal.heal.start"
    assert payload["unit"] == unit("0").key
    assert payload["root_stack_id"] == ROOT
