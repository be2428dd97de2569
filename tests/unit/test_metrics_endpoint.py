"""GET /metrics: the ledger's numbers in Prometheus' text format.

Real healer, real SQLite ledger, a recording dispatcher; the scrape goes
through a real listener and is parsed by prometheus_client's own parser.
"""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from tests.unit.fakes import ROOT, make_healer, request, unit
from vitrage_selfheal.app import load_config
from vitrage_selfheal.decide.policy import Policy, Threshold
from vitrage_selfheal.dispatch.base import ExecState
from vitrage_selfheal.ledger import stats
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.metrics.collector import LedgerCollector
from vitrage_selfheal.metrics.endpoint import MetricsEndpoint, serve_metrics
from vitrage_selfheal.model import HoldKind, Reason


def samples(text: str) -> dict[tuple, float]:
    """(sample name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples}


class Scraper:
    def __init__(self, healer, counters: Counters, token: str = "",
                 cache_ttl: float = 0.0) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LedgerCollector(
            lambda now: stats.read(healer.ledger, now), healer.clock,
            counters, cache_ttl))
        self.server = serve_metrics(MetricsEndpoint(registry, token,
                                                    counters),
                                    load_config([]), "127.0.0.1", 0)
        host, port = self.server.server_address
        self.url = f"http://{host}:{port}/metrics"

    def get(self, **headers: str) -> requests.Response:
        return requests.get(self.url, headers=headers, timeout=10)

    def __call__(self) -> dict[tuple, float]:
        answer = self.get()
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith("text/plain")
        return samples(answer.text)


@pytest.fixture
def scraper():
    made = []

    def make(healer, counters=None, **kw):
        made.append(Scraper(healer, counters or Counters(), **kw))
        return made[-1]
    yield make
    for s in made:
        s.server.shutdown()


def run(healer, clock, seconds: float) -> list:
    out = []
    for _ in range(int(seconds)):
        clock.advance(1.0)
        out += healer.tick()
    return out


def test_a_heal_shows_as_decisions_executions_and_latencies(
        tmp_path, clock, dispatcher, scraper):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    healer.submit(request(unit("0")))
    run(healer, clock, 4)
    got = scraper(healer)()
    assert got[("selfheal_ledger_up", ())] == 1.0
    assert got[("selfheal_executions_started_total",
                (("kind", "heal"),))] == 1.0
    assert got[("selfheal_operations_open",
                (("kind", "heal"), ("state", "RUNNING")))] == 1.0
    assert got[("selfheal_open_intents", (("state", "BATCHED"),))] == 1.0
    age = got[("selfheal_oldest_open_operation_age_seconds",
               (("kind", "heal"),))]
    assert 0 < age <= 4.0
    clock.advance(30)
    dispatcher.finish_all(ExecState.SUCCESS)
    run(healer, clock, 2)
    got = scraper(healer)()
    with healer.ledger.transaction() as tx:
        rows = tx.decisions(limit=10_000)
    by_reason: dict[tuple, int] = {}
    for row in rows:
        key = (row.action, row.reason)
        by_reason[key] = by_reason.get(key, 0) + 1
    exported = {(dict(labels)["action"], dict(labels)["reason"]): value
                for (name, labels), value in got.items()
                if name == "selfheal_decisions_total"}
    assert exported == by_reason and ("accept", "FIRST_HEAL") in exported
    assert got[("selfheal_executions_finished_total",
                (("kind", "heal"), ("outcome", "SUCCESS")))] == 1.0
    assert got[("selfheal_operations_ended_total",
                (("kind", "heal"), ("state", "SUCCESS")))] == 1.0
    assert ("selfheal_operations_open",
            (("kind", "heal"), ("state", "RUNNING"))) not in got
    # The fault was raised at submit; the start came on the ticks after
    # it (coalescing), the success some 30 s later.
    dispatch = got[("selfheal_fault_to_dispatch_seconds_sum",
                    (("kind", "heal"),))]
    healed = got[("selfheal_fault_to_healed_seconds_sum",
                  (("kind", "heal"),))]
    assert got[("selfheal_fault_to_healed_seconds_count",
                (("kind", "heal"),))] == 1.0
    assert 0 < dispatch <= 4.0 and 30.0 < healed <= 40.0
    assert got[("selfheal_fault_to_healed_seconds_bucket",
                (("kind", "heal"), ("le", "20.0")))] == 0.0
    assert got[("selfheal_fault_to_healed_seconds_bucket",
                (("kind", "heal"), ("le", "60.0")))] == 1.0


def test_storm_guard_breaker_and_rejections_are_visible(
        tmp_path, clock, dispatcher, scraper):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher,
                         policy=Policy(max_unhealthy=Threshold(25.0, True),
                                       min_heal_allowed=1))
    for n in range(3):                   # 3 of 4 units at once: a storm
        healer.submit(request(unit(str(n))))
    healer.reject(Reason.MALFORMED, "payload is not a mapping", "test")
    with healer.ledger.transaction() as tx:
        tx.set_hold(ROOT, HoldKind.BREAKER, "3 failures", clock.now())
    got = scraper(healer)()
    held = got[("selfheal_storm_guard_held_units",
                (("group", unit("0").group),))]
    assert held >= 2
    assert got[("selfheal_held_units", (("reason", "STORM_GUARD"),))] == held
    assert got[("selfheal_breaker_open", (("scope", ROOT),))] == 1.0
    assert got[("selfheal_holds", (("kind", "breaker"),))] == 1.0
    assert got[("selfheal_ingest_rejections_total",
                (("reason", "MALFORMED"),))] == 1.0


def test_token_cache_and_an_unreadable_ledger(tmp_path, clock, dispatcher,
                                             scraper):
    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    counters = Counters()
    counters.inc("webhook.unauthenticated", 7)
    s = scraper(healer, counters, token="s3cret", cache_ttl=10.0)
    assert s.get().status_code == 401
    assert s.get(Authorization="Bearer wrong").status_code == 401
    assert counters.get("metrics.unauthorized") == 2
    ok = s.get(Authorization="Bearer s3cret")
    assert ok.status_code == 200
    got = samples(ok.text)
    assert got[("selfheal_webhook_unauthenticated_total", ())] == 7.0
    assert got[("selfheal_process_events_total",
                (("event", "metrics.unauthorized"),))] == 2.0
    # Within cache_ttl the ledger is not read again; past it, it is.
    healer.submit(request(unit("0")))
    got = samples(s.get(Authorization="Bearer s3cret").text)
    assert ("selfheal_open_intents", (("state", "PENDING"),)) not in got
    clock.advance(11)
    got = samples(s.get(Authorization="Bearer s3cret").text)
    assert got[("selfheal_open_intents", (("state", "PENDING"),))] == 1.0
    # The ledger goes away: the scrape still answers, saying so.
    healer.ledger.engine.dispose()
    (tmp_path / "ledger.db").unlink()
    (tmp_path / "ledger.db").mkdir()
    clock.advance(11)
    got = samples(s.get(Authorization="Bearer s3cret").text)
    assert got[("selfheal_ledger_up", ())] == 0.0
    assert got[("selfheal_process_events_total",
                (("event", "metrics.ledger_read_failed"),))] == 1.0
    assert not [k for k in got if k[0] == "selfheal_decisions_total"]


def test_the_webhook_port_serves_metrics_when_mounted(tmp_path, clock,
                                                      dispatcher):
    from vitrage_selfheal.ingest import webhook

    healer = make_healer(tmp_path, clock=clock, dispatcher=dispatcher)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(
        lambda now: stats.read(healer.ledger, now), clock, Counters()))
    conf = load_config([])
    conf.set_override("secret", "x" * 32, group="selfheal_webhook")
    server = webhook.make_server(healer, conf, "127.0.0.1", 0, clock,
                                 metrics_endpoint=MetricsEndpoint(registry))
    import threading
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address
        answer = requests.get(f"http://{host}:{port}/metrics", timeout=10)
        assert answer.status_code == 200
        assert ("selfheal_ledger_up", ()) in samples(answer.text)
        assert requests.post(f"http://{host}:{port}/metrics",
                             timeout=10).status_code == 405
    finally:
        server.shutdown()
