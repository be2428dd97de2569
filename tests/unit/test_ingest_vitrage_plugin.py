"""The `selfheal` notifier plugin as Vitrage 15 itself loads and feeds it."""

from __future__ import annotations

import logging
import sys
import time
import types

import pytest

from tests.unit.test_ingest_parse import (
    ALARM_ID,
    EVENT_TIME,
    ROOT,
    STACK,
    UNIT_ID,
    RecordingSink,
    alarm_payload,
    unit_vertex,
)
from vitrage_selfheal.model import HealRequest, Intent, Unit

pytest.importorskip("vitrage")

pytestmark = pytest.mark.engine

SELFHEAL_CONF = """\
[selfheal_ingest]
heal_alarm_pattern = ^unit\\.down\\b
"""

VITRAGE_CONF = """\
[DEFAULT]
transport_url = fake:/
notifiers = selfheal
notifiers_path = vitrage.notifier.plugins,vitrage_selfheal.ingest.plugins

[selfheal]
config_file = {selfheal_conf}
"""

WEBHOOK_VITRAGE_CONF = """\
[DEFAULT]
notifiers = selfheal_webhook
notifiers_path = vitrage.notifier.plugins,vitrage_selfheal.ingest.plugins

[selfheal_webhook]
url = {base}/v1/notifications
secret = k
timeout = 2
"""


@pytest.fixture
def shared_app(monkeypatch):
    """Stands in for vitrage_selfheal.app, written elsewhere."""
    sink = RecordingSink()
    calls: list[list[str]] = []

    def fake_shared_sink(config_files):
        calls.append(list(config_files))
        return sink

    module = types.ModuleType("vitrage_selfheal.app")
    module.shared_sink = fake_shared_sink
    monkeypatch.setitem(sys.modules, "vitrage_selfheal.app", module)
    monkeypatch.setattr("vitrage_selfheal.app", module, raising=False)
    return sink, calls


@pytest.fixture
def parse_vitrage_conf(tmp_path):
    """Parses a vitrage.conf into Vitrage's global CONF, as Vitrage does."""
    from oslo_config import cfg
    from vitrage.common import config

    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def parse(text):
        path = tmp_path / "vitrage.conf"
        path.write_text(text)
        # Another test may have left Vitrage's global CONF parsed.
        cfg.CONF.reset()
        cfg.CONF.clear()
        # args[0] is dropped by parse_config, like argv[0].
        config.parse_config(["vitrage-notifier", "--config-file", str(path)])
        return cfg.CONF

    try:
        yield parse
    finally:
        cfg.CONF.reset()
        cfg.CONF.clear()
        from vitrage_selfheal.ingest.plugins import (
            mistral,
            selfheal,
            selfheal_webhook,
        )

        for module in (selfheal, selfheal_webhook, mistral):
            if module.NAME in cfg.CONF:
                cfg.CONF.unregister_opts(module.OPTS, group=module.NAME)
        # oslo.log's setup replaced the root logger's handlers.
        root.handlers[:], root.level = saved


@pytest.fixture
def vitrage_conf(tmp_path, parse_vitrage_conf):
    selfheal_conf = tmp_path / "selfheal.conf"
    selfheal_conf.write_text(SELFHEAL_CONF)
    conf = parse_vitrage_conf(
        VITRAGE_CONF.format(selfheal_conf=selfheal_conf))
    return conf, str(selfheal_conf)


def load_plugins():
    from vitrage.notifier.service import VitrageNotifierService

    return VitrageNotifierService.get_notifier_plugins()


def test_vitrage_loads_the_plugin_and_feeds_it(vitrage_conf, shared_app):
    from vitrage.graph.driver.elements import Vertex
    from vitrage.notifier.service import VitrageDefaultEventEndpoint

    from vitrage_selfheal.ingest.plugins.selfheal import SelfHealNotifier

    conf, selfheal_conf = vitrage_conf
    sink, calls = shared_app
    [plugin] = load_plugins()
    assert isinstance(plugin, SelfHealNotifier)
    assert plugin.get_notifier_name() == "selfheal"
    assert calls == [[selfheal_conf]]

    # What the graph notifier publishes for a deduced alarm on a unit: the
    # alarm's properties, `resource` the unit's graph vertex.
    payload = alarm_payload(
        "unit.down nova instance error",
        resource=Vertex("unit-vertex-uuid", unit_vertex()))
    endpoint = VitrageDefaultEventEndpoint([plugin])
    endpoint.info({}, "vitrage.graph", "vitrage.deduced_alarm.activate",
                  payload, {"message_id": "m1"})

    assert sink.requests == [HealRequest(
        unit=Unit(ROOT, STACK, "member-0", physical_id="server-0",
                  group="asg", group_size=4),
        alarm_key=f"unit.down nova instance error@{UNIT_ID}",
        alarm_name="unit.down nova instance error",
        intent=Intent.HEAL, active=True, source="vitrage.notifier",
        detail="vitrage.deduced_alarm.activate", event_time=EVENT_TIME)]
    # The default pattern is replaced by the one in config_file.
    endpoint.info({}, "vitrage.graph", "vitrage.deduced_alarm.activate",
                  alarm_payload(), {})
    assert len(sink.requests) == 1
    assert plugin.stats.snapshot() == {"submitted": 1, "ignored": 1}


def test_graph_notifier_over_the_bus(vitrage_conf, shared_app):
    """Vitrage's GraphNotifier -> oslo.messaging (in-memory) -> listener."""
    from vitrage.entity_graph.processor.notifier import GraphNotifier
    from vitrage.graph.driver.elements import Vertex
    from vitrage.graph.driver.networkx_graph import NXGraph
    from vitrage.notifier.service import VitrageNotifierService

    sink, _ = shared_app
    service = VitrageNotifierService.__new__(VitrageNotifierService)
    service.notifiers = load_plugins()
    service._init_listeners()

    graph = NXGraph("test")
    graph.add_vertex(Vertex("unit-vertex-uuid", unit_vertex()))
    alarm = alarm_payload("unit.down", resource=None)
    del alarm["resource"]
    before = None
    current = Vertex(ALARM_ID, dict(alarm))
    cleared = Vertex(ALARM_ID, dict(alarm, vitrage_is_deleted=True,
                                    state="Inactive"))

    for listener in service.listeners:
        listener.start()
    try:
        notifier = GraphNotifier()
        assert notifier.enabled
        notifier.notify_when_applicable(before, current, True, graph)
        notifier.notify_when_applicable(current, cleared, True, graph)
        deadline = time.monotonic() + 10
        while len(sink.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # Let a (wrong) third delivery show up if there is one.
        time.sleep(0.3)
    finally:
        for listener in service.listeners:
            listener.stop()
            listener.wait()

    # Each change arrives as deduced_alarm.* and as its alarm.* twin; the
    # plugin keeps one of each pair. Vitrage's listener runs on a thread
    # pool, so the two changes may be handed over in either order.
    assert sorted((r.alarm_key, r.active, r.detail)
                  for r in sink.requests) == sorted([
        (f"unit.down@{UNIT_ID}", True, "vitrage.deduced_alarm.activate"),
        (f"unit.down@{UNIT_ID}", False, "vitrage.deduced_alarm.deactivate"),
    ])
    assert {r.unit.physical_id for r in sink.requests} == {"server-0"}
    assert service.notifiers[0].stats.snapshot() == {"submitted": 2,
                                                     "duplicate": 2}


def test_vitrage_loads_the_signing_plugin(parse_vitrage_conf):
    """selfheal_webhook, configured in vitrage.conf, reaches a receiver."""
    from tests.unit.test_ingest_webhook import running
    from vitrage_selfheal.clock import SystemClock
    from vitrage_selfheal.ingest import opts as ingest_opts
    from vitrage_selfheal.ingest.plugins.selfheal_webhook import (
        SelfHealWebhookNotifier,
    )

    receiver_conf = ingest_opts.load([])
    receiver_conf.set_override("secret", "k", group="selfheal_webhook")
    sink = RecordingSink()
    with running(sink, receiver_conf, SystemClock()) as base:
        parse_vitrage_conf(WEBHOOK_VITRAGE_CONF.format(base=base))
        [plugin] = load_plugins()
        assert isinstance(plugin, SelfHealWebhookNotifier)
        plugin.process_event(alarm_payload(),
                             "vitrage.deduced_alarm.activate")
    [request] = sink.requests
    assert request.source == "webhook"
    assert request.unit.group_size == 4


def test_execute_mistral_for_our_workflow_goes_through_the_healer(
        tmp_path, parse_vitrage_conf, monkeypatch):
    """Vitrage's real notifier service loads our `mistral` notifier first;
    our workflow's action is decided, any other goes to Mistral."""
    from vitrage.notifier.plugins.mistral.mistral_notifier import (
        MistralNotifier,
    )
    from vitrage.notifier.service import VitrageNotifierService

    from vitrage_selfheal import app
    from vitrage_selfheal.ingest.plugins import mistral as plugin

    sink = RecordingSink()
    monkeypatch.setattr(app, "shared_sink", lambda files: sink)
    parse_vitrage_conf(
        "[DEFAULT]\nnotifiers = mistral\n"
        "notifiers_path = vitrage_selfheal.ingest.plugins,"
        "vitrage.notifier.plugins\n")
    loaded, = VitrageNotifierService.get_notifier_plugins()
    assert isinstance(loaded, plugin.SelfHealMistralNotifier)
    assert loaded.use_private_topic()

    started = []
    monkeypatch.setattr(MistralNotifier, "process_event",
                        lambda self, data, event: started.append(data))
    ours = {"workflow": "selfheal.heal_units",
            "input": {"root_stack_id": ROOT, "stack_id": STACK,
                      "resource_name": "member-0"}}
    loaded.info({}, "vitrage.evaluator", "vitrage.execute_external_action",
                ours, {})
    other = {"workflow": "someone.else", "input": {}}
    loaded.info({}, "vitrage.evaluator", "vitrage.execute_external_action",
                other, {})
    assert [r.unit.resource_name for r in sink.requests] == ["member-0"]
    assert started == [other]
