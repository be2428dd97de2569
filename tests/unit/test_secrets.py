"""Configured passwords never reach the log, even at DEBUG.

A run with a password in every credential option: the options dumped by
oslo (`log_opt_values`), the App started as the Vitrage plugin starts it
(`shared_app`), a heal request, ticks, refused and malformed webhook
requests, and /healthz with the ledger reachable and then not.
"""

from __future__ import annotations

import functools
import logging

import pytest
from oslo_config import cfg

from tests.unit.fakes import RecordingDispatcher, StackStatuses, request, unit
from tests.unit.test_ingest_webhook import call, envelope, signed
from vitrage_selfheal import app as app_mod
from vitrage_selfheal import opts
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.datasources.heat.unit import OPTS as HEAT_UNIT_OPTS
from vitrage_selfheal.errors import NotRecorded
from vitrage_selfheal.ingest.webhook import NOTIFICATIONS_PATH, WebhookApp
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.metrics import Counters

LEDGER_PW = "Ledger-Pw-5e1c9"
TRANSPORT_PW = "Transport-Pw-77ab"
WEBHOOK_SECRET = "Webhook-Secret-3d0f"
COORDINATION_PW = "Coordination-Pw-a41"
PASSWORDS = (LEDGER_PW, TRANSPORT_PW, WEBHOOK_SECRET, COORDINATION_PW)

# Nothing listens on port 1 of 127.0.0.1: every connection is refused.
LEDGER_URL = f"postgresql+psycopg2://selfheal:{LEDGER_PW}@127.0.0.1:1/sh"


def credential_options() -> list[tuple[str, cfg.Opt]]:
    found = [(group, opt) for group, group_opts in opts.list_opts()
             for opt in group_opts]
    return found + [("heat.unit", opt) for opt in HEAT_UNIT_OPTS]


def test_every_credential_option_is_secret() -> None:
    words = ("url", "password", "secret", "credential", "token")
    public = {("mistral", "endpoint"), ("openstack", "heat_endpoint"),
              ("selfheal_webhook", "public_url"),
              ("heat.unit", "heat_endpoint")}
    for group, opt in credential_options():
        if (group, opt.dest) in public:
            continue
        if any(w in opt.dest for w in words):
            assert opt.secret, f"[{group}] {opt.dest} is not secret=True"


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "selfheal.conf"
    path.write_text(
        "[DEFAULT]\ndebug = true\n"
        f"[selfheal]\nstate_path = {tmp_path}\n"
        f"ledger_url = {LEDGER_URL}\n"
        # tooz reads the password from the URL; file:// ignores it.
        f"coordination_url = file://{tmp_path}/locks"
        f"?password={COORDINATION_PW}\n"
        f"[engine]\ntransport_url = rabbit://guest:{TRANSPORT_PW}"
        f"@127.0.0.1:1/\n"
        f"[selfheal_webhook]\nsecret = {WEBHOOK_SECRET}\n"
        "[mistral]\nendpoint = http://127.0.0.1:1/v2\n")
    return str(path)


def test_no_configured_password_is_logged(config_file, tmp_path,
                                          monkeypatch, caplog) -> None:
    clock = FakeClock()
    dispatcher = RecordingDispatcher()
    # The configured ledger is unreachable; the run itself needs one.
    sqlite = f"sqlite:///{tmp_path}/ledger.db"
    monkeypatch.setattr(app_mod, "open_ledger",
                        lambda conf: upgraded(Ledger(sqlite)))
    monkeypatch.setattr(app_mod, "App", functools.partial(
        app_mod.App, dispatcher=dispatcher, status=StackStatuses(),
        clock=clock, counters=Counters()))
    monkeypatch.setattr(app_mod, "_shared", None)
    bodies = []
    with caplog.at_level(logging.DEBUG):
        app = app_mod.shared_app([config_file])
        try:
            app.conf.log_opt_values(logging.getLogger("test.conf"),
                                    logging.DEBUG)
            receiver = WebhookApp(app, app.conf, clock=clock)
            app.submit(request(unit("m0")))
            clock.advance(5)
            app.healer.tick()
            body = envelope()
            unsigned = {"Content-Type": "application/json"}
            for headers in (unsigned, signed(body, clock.now(), "wrong")):
                bodies.append(call(receiver, "POST", NOTIFICATIONS_PATH,
                                   body, headers))
            malformed = b"[]"
            bodies.append(call(receiver, "POST", NOTIFICATIONS_PATH,
                               malformed, signed(malformed, clock.now(),
                                                 WEBHOOK_SECRET)))
            bodies.append(call(receiver, "GET", "/healthz"))
            # Now the ledger as configured: unreachable.
            app.healer.ledger.dispose()
            app.healer.ledger = Ledger(app.conf.selfheal.ledger_url)
            app.healer.tick()
            with pytest.raises(NotRecorded):
                app.submit(request(unit("m1")))
            # The in-process notifier's way: kept on disk instead.
            assert app.spooling().submit(request(unit("m2"))) == []
            bodies.append(call(receiver, "GET", "/healthz"))
        finally:
            app.stop()
    assert [status for status, _ in bodies] == [401, 401, 400, 200, 503]
    assert dispatcher.starts, "the run healed nothing: it proves nothing"
    text = caplog.text + "\n".join(str(b) for b in bodies)
    # The run did log its configuration and its failures.
    assert "ledger_url" in text and "transport_url" in text
    assert "ledger unreachable" in text
    assert "started (ledger postgresql+psycopg2://selfheal:***@" in text
    for password in PASSWORDS:
        assert password not in text


def upgraded(ledger: Ledger) -> Ledger:
    ledger.upgrade()
    return ledger
