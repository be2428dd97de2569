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
from vitrage_selfheal.health import Health
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.webhook import (
    INTERNAL_ERROR_COUNTER,
    NOTIFICATIONS_PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    UNAUTHENTICATED_COUNTER,
    WebhookApp,
    make_server,
    sign,
    verify,
)
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import Reason, Unit

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
def counters():
    return Counters()


@pytest.fixture
def receiver(conf, clock, sink, counters, stats):
    with running(sink, conf, clock, counters=counters, stats=stats) as base:
        yield base


@pytest.fixture
def stats():
    from vitrage_selfheal.ingest import IngestStats
    return IngestStats()


@contextlib.contextmanager
def running(sink, conf, clock, **kwargs):
    server = make_server(sink, conf, "127.0.0.1", 0, clock=clock, **kwargs)
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


def webhook_logger() -> str:
    return "vitrage_selfheal.ingest.webhook"


def call(app, method, path, body=b"", headers=None):
    """One request straight into the WSGI app: (status, JSON body)."""
    import io

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path,
               "REMOTE_ADDR": "10.0.0.9", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        # As a WSGI server puts them: these two without the HTTP_ prefix.
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH")
                else "HTTP_" + key] = value
    seen = []
    chunks = app(environ, lambda status, _headers: seen.append(status))
    return int(seen[0].split()[0]), json.loads(b"".join(chunks))


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
    # Digits to str.isdigit(), not to int(): once a 500.
    ({"ts": "\u00b2"}, "bad timestamp"),
    ({"ts": "\u0661\u0660\u0660\u0660"}, "bad timestamp"),
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

def test_healthz(receiver, counters):
    counters.inc("healer.backlog_dropped", 2)
    response = requests.get(receiver + "/healthz", timeout=5)
    assert response.status_code == 200
    # Unauthenticated: status and problems, never the counters.
    assert response.json() == {"status": "ok", "problems": []}


def test_healthz_is_503_naming_the_problems(conf, clock, sink, counters):
    problems = ("ledger unreachable: OperationalError: refused",
                "last good tick 93 s ago (limit 30 s)")
    app = WebhookApp(sink, conf, clock=clock, counters=counters,
                     health=lambda: Health(problems))
    status, document = call(app, "GET", "/healthz")
    assert status == 503
    assert document["status"] == "degraded"
    assert document["problems"] == list(problems)
    assert "counters" not in document


def test_healthz_check_that_raises_is_503(conf, clock, sink):
    def broken() -> Health:
        raise RuntimeError("boom")

    app = WebhookApp(sink, conf, clock=clock, health=broken)
    status, document = call(app, "GET", "/healthz")
    assert status == 503
    assert document["problems"] == ["health check failed: RuntimeError: "
                                    "boom"]


def test_healthz_uses_the_sinks_health_and_counters(conf, clock):
    class HealthySink(RecordingSink):
        def __init__(self) -> None:
            super().__init__()
            self.counters = Counters()
            self.counters.inc("x")
            self.problems: tuple[str, ...] = ()

        def health(self) -> Health:
            return Health(self.problems)

    sink = HealthySink()
    app = WebhookApp(sink, conf, clock=clock)
    assert call(app, "GET", "/healthz") == (200, {
        "status": "ok", "problems": []})
    assert app.counters.snapshot() == {"x": 1}
    sink.problems = ("stale",)
    assert call(app, "GET", "/healthz")[0] == 503


def test_good_request_is_accepted(receiver, clock, sink, stats):
    body = envelope()
    response = post(receiver, body, signed(body, clock.now()))
    assert response.status_code == 202
    assert response.json()["decisions"] == [
        f"accept/FIRST_HEAL {STACK}/member-0"]
    [request] = sink.requests
    assert request.source == "webhook"
    assert request.alarm_key == f"{request.alarm_name}@{UNIT_ID}"
    assert request.unit.physical_id == "server-0"
    assert stats.snapshot() == {"submitted": 1}


def test_timestamp_within_skew_is_accepted(receiver, clock, sink):
    body = envelope()
    response = post(receiver, body, signed(body, clock.now() - 299))
    assert response.status_code == 202


def test_unsigned_is_401_counted_not_recorded(receiver, sink, counters,
                                              stats):
    response = post(receiver, envelope(),
                    {"Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "unsigned request from 127.0.0.1"
    assert response.json()["outcome"] == "refused"
    assert not sink.requests
    assert not sink.rejects
    assert counters.snapshot() == {UNAUTHENTICATED_COUNTER: 1}
    assert stats.snapshot() == {"unauthorized": 1}


def test_bad_signature_is_401(receiver, clock, sink):
    body = envelope()
    response = post(receiver, body, signed(body, clock.now(), "wrong"))
    assert response.status_code == 401
    assert response.json()["error"].startswith("bad signature")
    assert not sink.requests and not sink.rejects


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
    assert response.json()["error"].startswith("stale")
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


def test_too_large_is_413_counted_not_recorded(receiver, clock, sink,
                                              counters):
    # Refused before the signature can be checked: anyone can send it.
    body = b"{" + b" " * MAX_BODY + b"}"
    response = post(receiver, body, signed(body, clock.now()))
    assert response.status_code == 413
    assert "exceeds 4096" in response.json()["error"]
    assert not sink.requests and not sink.rejects
    assert counters.get(UNAUTHENTICATED_COUNTER) == 1


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded",
    "application/jsonp", "multipart/form-data; boundary=x"])
def test_body_not_declared_json_is_415_counted_not_recorded(
        receiver, clock, sink, counters, content_type):
    body = envelope()
    headers = sign(SECRET, body, clock.now())
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = post(receiver, body, headers)
    assert response.status_code == 415
    assert response.json()["outcome"] == "refused"
    assert not sink.requests and not sink.rejects
    assert counters.get(UNAUTHENTICATED_COUNTER) == 1


@pytest.mark.parametrize("content_type", [
    "application/json; charset=utf-8", "Application/JSON",
    "application/json ;charset=UTF-8"])
def test_json_with_parameters_is_accepted(receiver, clock, sink,
                                          content_type):
    body = envelope()
    headers = {**sign(SECRET, body, clock.now()),
               "Content-Type": content_type}
    assert post(receiver, body, headers).status_code == 202
    assert len(sink.requests) == 1


class _ClockThatFailsOnce(FakeClock):
    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def now(self) -> float:
        if not self.failed:
            self.failed = True
            raise RuntimeError("clock broke (test)")
        return super().now()


def test_unexpected_error_is_500_logged_once_and_the_worker_lives(
        conf, sink, counters, caplog):
    clock = _ClockThatFailsOnce()
    conf.set_override("workers", 1, group=ingest_opts.WEBHOOK_GROUP)
    body = envelope()
    with running(sink, conf, clock, counters=counters) as base, \
            caplog.at_level(logging.ERROR, logger=webhook_logger()):
        response = post(base, body, signed(body, 1_700_000_000))
        assert response.status_code == 500
        assert response.json() == {"error": "internal error"}
        # The only worker still answers.
        assert post(base, body, signed(body, clock.now())).status_code \
            == 202
    errors = [r for r in caplog.records if r.name == webhook_logger()]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "clock broke" in caplog.text
    assert counters.get(INTERNAL_ERROR_COUNTER) == 1


def test_refusals_log_once_per_interval_with_the_count(conf, clock, sink,
                                                        counters, caplog):
    conf.set_override("refused_log_interval", 60,
                      group=ingest_opts.WEBHOOK_GROUP)
    app = WebhookApp(sink, conf, clock=clock, counters=counters)
    unsigned = {"Content-Type": "application/json"}
    with caplog.at_level(logging.WARNING, logger=webhook_logger()):
        for _ in range(5):
            assert call(app, "POST", NOTIFICATIONS_PATH, envelope(),
                        unsigned)[0] == 401
        clock.advance(59)
        assert call(app, "POST", NOTIFICATIONS_PATH, envelope(),
                    unsigned)[0] == 401
        clock.advance(1)
        body = envelope()
        assert call(app, "POST", NOTIFICATIONS_PATH, body,
                    signed(body, clock.now(), "wrong"))[0] == 401
    lines = [r.getMessage() for r in caplog.records
             if r.name == webhook_logger()]
    assert lines == [
        "webhook: refused with HTTP 401: unsigned request from 10.0.0.9",
        "webhook: refused with HTTP 401: bad signature from 10.0.0.9 "
        "(5 more suppressed in the last 60 s)"]
    assert all(r.levelno == logging.WARNING for r in caplog.records
               if r.name == webhook_logger())
    assert counters.get(UNAUTHENTICATED_COUNTER) == 7
    assert not sink.rejects


def test_authenticated_malformed_input_is_still_recorded(conf, clock, sink,
                                                          counters):
    app = WebhookApp(sink, conf, clock=clock, counters=counters)
    body = b"[]"
    status, _ = call(app, "POST", NOTIFICATIONS_PATH, body,
                     signed(body, clock.now()))
    assert status == 400
    assert [r[0] for r in sink.rejects] == [Reason.MALFORMED]
    assert counters.get(UNAUTHENTICATED_COUNTER) == 0


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
               "retry_delay": 0.25, "spool_path": ""}
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
    errors = [r.getMessage() for r in caplog.records
              if r.levelno == logging.ERROR
              and "selfheal_webhook" in r.getMessage()]
    assert "HTTP 503" in errors[0]
    # Without a spool the log line is the only copy: all of it.
    assert "dropped" in errors[-1] and ALARM_ID in errors[-1]


def test_signing_plugin_does_not_retry_401(receiver, clock, sink):
    plugin, sleeps = webhook_plugin(receiver + NOTIFICATIONS_PATH, clock,
                                    secret="wrong")
    assert plugin.post(envelope()) is False
    assert sleeps == []
    assert not sink.rejects


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


# --- /healthz of the assembled App ----------------------------------------

@pytest.fixture
def selfheal_app(tmp_path, clock, counters):
    from tests.unit.fakes import RecordingDispatcher, StackStatuses
    from vitrage_selfheal.app import App, load_config

    conf = load_config([])
    conf.set_override("state_path", str(tmp_path), group="selfheal")
    conf.set_override("ledger_url", f"sqlite:///{tmp_path}/ledger.db",
                      group="selfheal")
    conf.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
    app = App(conf, dispatcher=RecordingDispatcher(), status=StackStatuses(),
              clock=clock, counters=counters)
    try:
        yield app
    finally:
        app.stop()


def test_app_healthz_ok_then_stale_tick_then_ok(selfheal_app, clock,
                                                counters):
    with running(selfheal_app, selfheal_app.conf, clock) as base:
        def healthz():
            response = requests.get(base + "/healthz", timeout=5)
            return response.status_code, response.json()

        assert healthz()[0] == 200
        clock.advance(31)
        status, document = healthz()
        assert (status, document["status"]) == (503, "degraded")
        assert document["problems"] == [
            "no good tick in the 31 s since start (limit 30 s)"]
        selfheal_app.healer.tick()
        assert healthz()[0] == 200
        clock.advance(93)
        counters.inc("datasource.heat_unit.read_errors")
        status, document = healthz()
        assert status == 503
        assert document["problems"] == [
            "last good tick 93 s ago (limit 30 s)"]
        assert "counters" not in document
        assert selfheal_app.counters.snapshot()[
            "datasource.heat_unit.read_errors"] == 1


def test_app_healthz_is_503_when_the_ledger_is_unreachable(selfheal_app,
                                                           clock):
    from vitrage_selfheal.ledger.store import Ledger

    selfheal_app.healer.ledger.dispose()
    # Nothing listens on 127.0.0.1:1: refused at once.
    selfheal_app.healer.ledger = Ledger(
        "postgresql+psycopg2://selfheal:pw@127.0.0.1:1/selfheal")
    status, document = call(WebhookApp(selfheal_app, selfheal_app.conf,
                                       clock=clock), "GET", "/healthz")
    assert status == 503
    [problem] = document["problems"]
    assert problem.startswith("ledger unreachable: OperationalError: ")
