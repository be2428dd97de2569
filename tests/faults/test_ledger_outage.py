"""Fault 8: the ledger's PostgreSQL stopped for 30 s while the webhook
receiver (`vitrage-selfheal serve`'s App and make_server) gets signed
notifications from the real sender (the `selfheal_webhook` notifier
plugin, with its retries and its spool)."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
import requests

from tests.faults import notify
from tests.faults.drive import wait_for
from tests.faults.observe import (
    RunningWatch,
    all_healed,
    check_once,
    reasons,
    replaced,
)
from vitrage_selfheal import paths
from vitrage_selfheal.app import App, load_config
from vitrage_selfheal.clients import HeatStatus
from vitrage_selfheal.ingest import webhook
from vitrage_selfheal.ingest.plugins.selfheal_webhook import (
    SelfHealWebhookNotifier,
)
from vitrage_selfheal.model import Reason

OUTAGE = 30.0
# The server behind the `postgres_url` fixture (the ledger's, not the
# cloud's: Heat and Mistral keep their own database).
PG_TOOL = paths.CHECKOUT / "tools" / "pg"


def pg(action: str) -> None:
    done = subprocess.run([str(PG_TOOL), action], cwd=paths.CHECKOUT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


class Answers:
    """Every HTTP status the sender got, with when."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, int]] = []
        self.session = requests.Session()
        self.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args, **kwargs) -> None:
        self.seen.append((time.monotonic(), response.status_code))

    def between(self, start: float, end: float) -> list[int]:
        return [code for at, code in self.seen if start <= at <= end]


@pytest.fixture
def receiver(pg_ledger_url, mistral, conn, tmp_path):
    conf_file = tmp_path / "selfheal.conf"
    conf_file.write_text(
        f"[selfheal]\nstate_path = {tmp_path}/state\n"
        f"ledger_url = {pg_ledger_url}\ntick_interval = 0.2\n"
        f"[selfheal_policy]\ncoalesce_window = 1\n"
        f"[openstack]\ncloud = devcloud\n"
        f"[selfheal_webhook]\nsecret = {notify.SECRET}\n")
    app = App(load_config([str(conf_file)]), dispatcher=mistral,
              status=HeatStatus(conn)).start()
    server = webhook.make_server(app, app.conf, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        app.stop()


def test_ledger_down_30s_webhook_503_then_nothing_lost(
        cluster, receiver, mistral, tmp_path, row):
    """Fault 8: the ledger's PostgreSQL down 30 s under the webhook."""
    app, port = receiver
    ledger = app.healer.ledger
    before = cluster.members()
    names = sorted(before)
    units = [cluster.unit(n) for n in names]
    answers = Answers()
    sender = SelfHealWebhookNotifier(
        url=f"http://127.0.0.1:{port}{webhook.NOTIFICATIONS_PATH}",
        secret=notify.SECRET, session=answers.session,
        spool_path=str(tmp_path / "sender.spool"))
    activate = notify.event(True)
    try:
        with RunningWatch(mistral) as watch:
            sender.handle(notify.payload(units[0], time.time()), activate)
            wait_for("the first heal started", lambda: reasons(
                ledger)[Reason.BATCH_DISPATCHED.value], timeout=60)
            pg("stop")
            down_at = time.monotonic()
            for unit in units[1:]:
                sender.handle(notify.payload(unit, time.time()), activate)
            time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))
            pg("start")
            up_at = time.monotonic()
            wait_for("every unit healed", lambda: all_healed(
                ledger, [u.key for u in units]), timeout=300, every=1)
    finally:
        sender.stopped.set()

    during = answers.between(down_at, up_at)
    assert during and set(during) == {503}, answers.seen
    after = answers.between(up_at, time.monotonic())
    assert 202 in after, answers.seen
    verdict = check_once(ledger, mistral, [cluster.id],
                         healed=[u.key for u in units], watch=watch)
    assert verdict.per_operation() == [1, 1]
    wrong = replaced(before, cluster.members(), names)
    assert not wrong, wrong
    resent_after = min(at for at, code in answers.seen
                       if at > up_at and code == 202) - up_at
    row.happened = (
        f"PostgreSQL down {up_at - down_at:.0f}s while 1 heal ran and 2 "
        f"alarms came: {len(during)} answers, all 503; the sender spooled "
        f"them, resent {resent_after:.0f}s after the ledger was back (202); "
        f"all 3 units healed once")
    row.executions = verdict.summary()
