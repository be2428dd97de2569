"""Issue 13 acceptance: `/metrics` scraped after a scenario on the REAL
Vitrage engine agrees with the ledger and with the simulator's own record
of the executions it ran."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from vitrage_selfheal import paths
from vitrage_selfheal.app import load_config
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.ledger import stats
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.metrics.collector import LedgerCollector
from vitrage_selfheal.metrics.endpoint import MetricsEndpoint, serve_metrics
from vitrage_selfheal.simulate import runner, scenario

pytestmark = pytest.mark.engine
pytest.importorskip("vitrage")

SCENARIOS = paths.CHECKOUT / "scenarios"
TEMPLATES = [str(paths.CHECKOUT / "templates")]


def scrape(ledger: Ledger, now: float) -> dict[str, dict[tuple, float]]:
    """name -> {sorted labels: value}, through a real listener."""
    from prometheus_client.registry import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(lambda at: stats.read(ledger, at),
                                      FakeClock(now), Counters()))
    server = serve_metrics(MetricsEndpoint(registry), load_config([]),
                           "127.0.0.1", 0)
    try:
        host, port = server.server_address
        text = requests.get(f"http://{host}:{port}/metrics",
                            timeout=30).text
    finally:
        server.shutdown()
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = \
                s.value
    return out


@pytest.mark.parametrize("name", ["demo", "host_down_two_stacks"])
def test_metrics_agree_with_the_ledger_and_the_executions(tmp_path, name):
    report = runner.run(scenario.load(SCENARIOS / f"{name}.yaml"),
                        TEMPLATES, tmp_path)
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    try:
        with ledger.transaction() as tx:
            rows = tx.decisions(limit=1_000_000)
            now = max(r.at for r in rows) + 1.0
        got = scrape(ledger, now)
    finally:
        ledger.dispose()

    counted: dict[tuple, float] = {}
    for row in rows:
        key = (("action", row.action), ("reason", row.reason))
        counted[key] = counted.get(key, 0) + 1
    assert got["selfheal_decisions_total"] == counted
    assert got["selfheal_ledger_up"] == {(): 1.0}

    # Every execution the simulator ran was started once and ended as it
    # reported; none is left open.
    heals = report.heals()
    started = sum(got.get("selfheal_executions_started_total", {}).values())
    assert started == len(heals) > 0, heals
    ended = got.get("selfheal_operations_ended_total", {})
    success = sum(v for k, v in ended.items() if ("state", "SUCCESS") in k)
    assert success == sum(1 for h in heals if h["state"] == "SUCCESS")
    assert not got.get("selfheal_operations_open")
    # One latency sample per unit an operation took: as many as the units
    # of the heals the simulator ran.
    units = sum(len(h["units"]) for h in heals if h["state"] == "SUCCESS")
    healed = got["selfheal_fault_to_healed_seconds_count"]
    assert sum(healed.values()) == units
