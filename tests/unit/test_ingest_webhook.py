"""The signed webhook receiver over real HTTP on 127.0.0.1, and the signing
Vitrage plugin posting to it."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading

import pytest
import requests

from tests.unit.test_ingest_parse import (
    ALARM_ID,
    STACK,
    UNIT_ID,
    FakeVertex,
    RecordingSink,
    alarm_payload,
    unit_vertex,
)
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.decide.reasons import Reason
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.webhook import (
    NOTIFICATIONS_PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookApp,
    make_server,
    sign,
    verify,
)
from vitrage_selfheal.model import Unit

SECRET = "s3cret-for-tests"
MAX_BODY = 4096


@pytest.fixture
def conf():
    conf = ingest_opts.load([])
    conf.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
    conf.set_override("max_body", MAX_BODY, group=ingest_opts.WEBHOOK_GROUP)
    return conf


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sink():
    return RecordingSink()


@pytest.fixture
def receiver(conf, clock, sink):
    with running(sink, conf, clock) as base:
        yield base


@contextlib.contextmanager
def running(sink, conf, clock):
    server = make_server(sink, conf, "127.0.0.1", 0, clock=clock)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def envelope(event="vitrage.deduced_alarm.activate", payload=None) -> bytes:
    return json.dumps({"notification": event,
                       "payload": alarm_payload() if payload is None
                       else payload}).encode()


def post(base, body, headers=None):
    return requests.post(base + NOTIFICATIONS_PATH, data=body,
                         headers=headers or {}, timeout=5)


def signed(body, ts, secret=SECRET):
    return {"Content-Type": "application/json", **sign(secret, body, ts)}


# --- sign / verify ---------------------------------------------------------

def test_sign_then_verify():
    body = b'{"a": 1}'
    headers = sign(SECRET, body, 1000.7)
    assert headers[TIMESTAMP_HEADER] == "1000"
    assert headers[SIGNATURE_HEADER].startswith("sha256=")
    ok = verify(SECRET, body, headers[TIMESTAMP_HEADER],
                headers[SIGNATURE_HEADER], 1000, 300)
    assert ok is None


@pytest.mark.parametrize("change, why", [
    ({"body": b'{"a": 2}'}, "bad signature"),
    ({"secret": "other"}, "bad signature"),
    ({"ts": "1001"}, "bad signature"),
    ({"ts": None}, "unsigned request"),
    ({"sig": None}, "unsigned request"),
    ({"ts": "-5"}, "bad timestamp"),
    ({"sig": "md5=abc"}, "bad signature"),
    ({"sig": "sha256=\u00e9"}, "bad signature"),
    ({"now": 1301}, "stale or future timestamp"),
    ({"now": 699}, "stale or future timestamp"),
])
def test_verify_refuses(change, why):
    body = b'{"a": 1}'
    headers = sign(SECRET, body, 1000)
    args = {"secret": SECRET, "body": body, "ts": headers[TIMESTAMP_HEADER],
            "sig": headers[SIGNATURE_HEADER], "now": 1000}
    args.update(change)
    assert verify(args["secret"], args["body"], args["ts"], args["sig"],
                  args["now"], 300) == why


def test_receiver_refuses_to_start_without_secret(sink):
    with pytest.raises(ValueError, match="secret"):
        WebhookApp(sink, ingest_opts.load([]))


# --- the receiver over HTTP -----------------------------------------------

def test_healthz(receiver):
    response = requests.get(receiver + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_good_request_is_accepted(receiver, clock, sink):
    body = envelope()
    response = post(receiver, body, signed(body, clock.now()))
    assert response.status_code == 202
    assert response.json()["decisions"] == [
        f"accept/FIRST_HEAL {STACK}/member-0"]
    [request] = sink.requests
    assert request.source == "webhook"
    assert request.alarm_key == f"{request.alarm_name}@{UNIT_ID}"
    assert request.unit.physical_id == "server-0"
    counts = requests.get(receiver + "/healthz", timeout=5).json()["counts"]
    assert counts == {"submitted": 1}


def test_timestamp_within_skew_is_accepted(receiver, clock, sink):
    body = envelope()
    response = post(receiver, body, signed(body, clock.now() - 299))
    assert response.status_code == 202


def test_unsigned_is_401_and_counted(receiver, sink):
    response = post(receiver, envelope(),
                    {"Content-Type": "application/json"})
    assert response.status_code == 401
    assert "unsigned" in response.json()["error"]
    assert not sink.requests
    [(reason, detail, source)] = sink.rejects
    assert reason is Reason.MALFORMED
    assert "unsigned request from 127.0.0.1" == detail
    assert source == "webhook"


def test_bad_signature_is_401(receiver, clock, sink):
    body = envelope()
    response = post(receiver, body, signed(body, clock.now(), "wrong"))
    assert response.status_code == 401
    assert sink.rejects[0][1].startswith("bad signature")
    assert not sink.requests


def test_tampered_body_is_401(receiver, clock, sink):
    body = envelope()
    headers = signed(body, clock.now())
    response = post(receiver, body.replace(b"member-0", b"member-1"),
                    headers)
    assert response.status_code == 401
    assert not sink.requests


def test_stale_timestamp_is_401(receiver, clock, sink):
    body = envelope()
    response = post(receiver, body, signed(body, clock.now() - 301))
    assert response.status_code == 401
    assert sink.rejects[0][1].startswith("stale")
    # The same request replayed later: still refused.
    headers = signed(body, clock.now())
    clock.advance(301)
    assert post(receiver, body, headers).status_code == 401


def test_bad_json_is_400_and_rejected(receiver, clock, sink):
    body = b'{"notification": '
    response = post(receiver, body, signed(body, clock.now()))
    assert response.status_code == 400
    [(reason, detail, _)] = sink.rejects
    assert reason is Reason.MALFORMED
    assert "not JSON" in detail


def test_wrong_envelope_is_400(receiver, clock, sink):
    body = json.dumps([1, 2]).encode()
    response = post(receiver, body, signed(body, clock.now()))
    assert response.status_code == 400
    assert "notification" in sink.rejects[0][1]


def test_too_large_is_413(receiver, clock, sink):
    body = b"{" + b" " * MAX_BODY + b"}"
    response = post(receiver, body, signed(body, clock.now()))
    assert response.status_code == 413
    assert "exceeds 4096" in sink.rejects[0][1]
    assert not sink.requests


def test_default_limit_is_one_mebibyte(conf, clock, sink):
    conf.clear_override("max_body", group=ingest_opts.WEBHOOK_GROUP)
    with running(sink, conf, clock) as base:
        body = b" " * (1024 * 1024 + 1)
        response = post(base, body, signed(body, clock.now()))
        assert response.status_code == 413
        body = envelope() + b" " * (1024 * 1024 - len(envelope()))
        response = post(base, body, signed(body, clock.now()))
        assert response.status_code == 202


def test_rejected_content_is_202_with_reject_decision(receiver, clock,
                                                      sink):
    body = envelope(payload=alarm_payload(
        resource=unit_vertex(stack_id="get_attr(stack, id)")))
    response = post(receiver, body, signed(body, clock.now()))
    assert response.status_code == 202
    document = response.json()
    assert document["outcome"] == "rejected"
    assert document["decisions"][0].startswith("reject/UNRESOLVED_TEMPLATE")
    assert sink.rejects[0][0] is Reason.UNRESOLVED_TEMPLATE


def test_sink_failure_is_503(receiver, clock, sink):
    sink.fail = True
    body = envelope()
    response = post(receiver, body, signed(body, clock.now()))
    assert response.status_code == 503
    assert response.json()["outcome"] == "failed"


def test_wrong_path_and_method(receiver):
    assert requests.get(receiver + "/v2/x", timeout=5).status_code == 404
    assert requests.get(receiver + NOTIFICATIONS_PATH,
                        timeout=5).status_code == 405
    assert requests.post(receiver + "/healthz", timeout=5).status_code == 405


# --- the signing plugin, end to end ---------------------------------------

def webhook_plugin(url, clock, **kwargs):
    pytest.importorskip("vitrage")
    from vitrage_selfheal.ingest.plugins.selfheal_webhook import (
        SelfHealWebhookNotifier,
    )

    sleeps: list[float] = []
    options = {"secret": SECRET, "timeout": 2.0, "max_retries": 2,
               "retry_delay": 0.25}
    options.update(kwargs)
    plugin = SelfHealWebhookNotifier(url=url, clock=clock,
                                     sleep=sleeps.append, **options)
    return plugin, sleeps


def test_signing_plugin_post_is_accepted(receiver, clock, sink):
    plugin, sleeps = webhook_plugin(receiver + NOTIFICATIONS_PATH, clock)
    # As the in-memory transport delivers it: the resource is a Vertex.
    payload = alarm_payload(resource=FakeVertex("unit-vertex-uuid",
                                                unit_vertex()))
    plugin.process_event(payload, "vitrage.deduced_alarm.activate")
    [request] = sink.requests
    assert request.unit == Unit(*UNIT_ID.split("/"), physical_id="server-0",
                                group="asg", group_size=4)
    assert request.source == "webhook"
    assert not sleeps
    # The vitrage.alarm.* twin of a deduced alarm is not sent again.
    plugin.process_event(payload, "vitrage.alarm.activate")
    assert len(sink.requests) == 1


def test_signing_plugin_retries_5xx_then_logs_body(receiver, clock, sink,
                                                   caplog):
    sink.fail = True
    plugin, sleeps = webhook_plugin(receiver + NOTIFICATIONS_PATH, clock)
    with caplog.at_level(logging.ERROR):
        plugin.process_event(alarm_payload(),
                             "vitrage.deduced_alarm.activate")
    assert sleeps == [0.25, 0.5]
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR
               and "selfheal_webhook" in r.getMessage()]
    assert "HTTP 503" in error.getMessage()
    assert ALARM_ID in error.getMessage()


def test_signing_plugin_does_not_retry_401(receiver, clock, sink):
    plugin, sleeps = webhook_plugin(receiver + NOTIFICATIONS_PATH, clock,
                                    secret="wrong")
    assert plugin.post(envelope()) is False
    assert sleeps == []
    assert len(sink.rejects) == 1


def test_signing_plugin_survives_unreachable_receiver(clock, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    plugin, sleeps = webhook_plugin(f"http://127.0.0.1:{port}/v1/x", clock,
                                    timeout=0.5)
    with caplog.at_level(logging.ERROR):
        plugin.process_event(alarm_payload(),
                             "vitrage.deduced_alarm.activate")
    assert sleeps == [0.25, 0.5]
    assert any("ConnectionError" in r.getMessage() for r in caplog.records)


def test_signing_plugin_unconfigured_drops_with_error(clock, caplog):
    plugin, _ = webhook_plugin("", clock)
    with caplog.at_level(logging.ERROR):
        plugin.process_event(alarm_payload(),
                             "vitrage.deduced_alarm.activate")
    assert any("not configured" in r.getMessage() for r in caplog.records)
