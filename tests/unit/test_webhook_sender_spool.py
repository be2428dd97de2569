"""The signing sender inside Vitrage keeps what the receiver could not
take (down, or its ledger down: 503) and resends it in order: a receiver
outage longer than the sender's retries loses nothing."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_ingest_parse import RecordingSink, alarm_payload
from tests.unit.test_ingest_webhook import (
    NOTIFICATIONS_PATH,
    SECRET,
    running,
)
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.ingest import opts as ingest_opts


@pytest.fixture
def conf():
    conf = ingest_opts.load([])
    conf.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
    return conf


def sender(url, tmp_path, clock):
    pytest.importorskip("vitrage")
    from vitrage_selfheal.ingest.plugins.selfheal_webhook import (
        SelfHealWebhookNotifier,
    )
    plugin = SelfHealWebhookNotifier(
        url=url, secret=SECRET, timeout=2.0, max_retries=1,
        retry_delay=0.0, clock=clock, sleep=lambda _s: None,
        spool_path=str(tmp_path / "sender.spool"))
    plugin._resend_interval = 3600.0     # the test resends by hand
    return plugin


def names(sink):
    return [(r.unit.resource_name, r.active) for r in sink.requests]


def test_ledger_outage_at_the_receiver_is_spooled_and_resent_in_order(
        conf, tmp_path) -> None:
    clock = FakeClock(1_800_000_000.0)
    sink = RecordingSink(fail=True)          # the receiver's ledger is down
    with running(sink, conf, clock) as base:
        plugin = sender(base + NOTIFICATIONS_PATH, tmp_path, clock)
        try:
            plugin.process_event(alarm_payload(),
                                 "vitrage.deduced_alarm.activate")
            plugin.process_event(alarm_payload(),
                                 "vitrage.deduced_alarm.deactivate")
            assert len(plugin._spool) == 2
            assert plugin.resend() == 0      # still down: nothing left
            sink.fail = False
            # New events queue behind the spooled ones.
            plugin.process_event(
                alarm_payload(update_timestamp="2026-11-25 10:05:00"),
                "vitrage.deduced_alarm.activate")
            assert sink.requests == []
            assert plugin.resend() == 3
        finally:
            plugin.stopped.set()
    assert [r.active for r in sink.requests] == [True, False, True]
    assert len(plugin._spool) == 0


def test_receiver_unreachable_then_back(conf, tmp_path) -> None:
    import socket
    clock = FakeClock(1_800_000_000.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plugin = sender(f"http://127.0.0.1:{port}{NOTIFICATIONS_PATH}",
                    tmp_path, clock)
    plugin.stopped.set()
    plugin.process_event(alarm_payload(), "vitrage.deduced_alarm.activate")
    assert len(plugin._spool) == 1
    sink = RecordingSink()
    with running(sink, conf, clock) as base:
        plugin._url = base + NOTIFICATIONS_PATH
        assert plugin.resend() == 1
    assert len(sink.requests) == 1


def test_a_refused_request_is_not_spooled(conf, tmp_path, caplog) -> None:
    clock = FakeClock(1_800_000_000.0)
    sink = RecordingSink()
    with running(sink, conf, clock) as base:
        plugin = sender(base + NOTIFICATIONS_PATH, tmp_path, clock)
        plugin._secret = "wrong"
        plugin.stopped.set()
        plugin.process_event(alarm_payload(),
                             "vitrage.deduced_alarm.activate")
    assert len(plugin._spool) == 0
    assert any("refused" in r.getMessage() and "dropped" in r.getMessage()
               for r in caplog.records)


def test_409_already_recorded_counts_as_delivered(conf, tmp_path) -> None:
    clock = FakeClock(1_800_000_000.0)
    sink = RecordingSink()
    body = json.dumps({"notification": "vitrage.deduced_alarm.activate",
                       "payload": alarm_payload()}).encode()
    with running(sink, conf, clock) as base:
        plugin = sender(base + NOTIFICATIONS_PATH, tmp_path, clock)
        plugin.stopped.set()
        assert plugin.post(body)
        # Same body, same second: the same signature, a replay to the
        # receiver, which recorded it already.
        assert plugin.post(body)
    assert len(sink.requests) == 1
