"""The ledger's numbers as Prometheus metric families, built per scrape.

A scrape within `cache_ttl` seconds of the last reuses its ledger read: a
fleet of Prometheus servers (or a browser on F5) must not turn into a
stream of queries on the database every decision goes through. A ledger
that cannot be read makes `selfheal_ledger_up` 0 and the rest absent,
never a failed scrape: the process's own counters still say why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Optional

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from vitrage_selfheal.clock import Clock
from vitrage_selfheal.ledger.stats import LedgerStats
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import BatchState, HoldKind, Reason

LOG = logging.getLogger(__name__)

__all__ = ["LATENCY_BUCKETS", "LedgerCollector"]

# Seconds: a heal is dispatched in seconds to minutes (coalescing,
# gates), a replacement takes minutes, a fenced one longer.
LATENCY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
                   600.0, 1200.0, 1800.0, 3600.0)

# Counted, not a ledger row (webhook.py): anyone reaching the port can send
# them; their own metric so that an alert need not know counter names.
_UNAUTHENTICATED = "webhook.unauthenticated"


class LedgerCollector(Collector):
    def __init__(self, read: Callable[[float], LedgerStats], clock: Clock,
                 counters: Counters, cache_ttl: float = 5.0,
                 backlog: Optional[Callable[[], int]] = None) -> None:
        self._read = read
        self._clock = clock
        self._counters = counters
        self._cache_ttl = cache_ttl
        self._backlog = backlog
        self._lock = threading.Lock()
        self._cached: Optional[tuple[float, LedgerStats]] = None

    def collect(self) -> Iterator[Metric]:
        now = self._clock.now()
        stats = self._stats(now)
        up = GaugeMetricFamily("selfheal_ledger_up",
                               "1 if the ledger answered this scrape")
        up.add_metric([], 0.0 if stats is None else 1.0)
        yield up
        yield from self._process(now)
        if stats is not None:
            yield from _ledger_families(stats, now)

    def _stats(self, now: float) -> Optional[LedgerStats]:
        with self._lock:
            if self._cached is not None and \
                    0 <= now - self._cached[0] < self._cache_ttl:
                return self._cached[1]
            try:
                stats = self._read(now)
            except Exception:
                # Counted: a ledger down for minutes shows as a rate.
                self._counters.inc("metrics.ledger_read_failed")
                LOG.exception("metrics: the ledger could not be read")
                return None
            self._cached = (now, stats)
            return stats

    def _process(self, now: float) -> Iterator[Metric]:
        values = self._counters.snapshot()
        yield _family(CounterMetricFamily, "selfheal_process_events",
                      "Events this process counted without a ledger row "
                      "(refused requests, read errors...)", ["event"],
                      {(name,): v for name, v in values.items()})
        yield _family(CounterMetricFamily,
                      "selfheal_webhook_unauthenticated",
                      "Webhook requests refused before their signature was "
                      "verified (401, 413, 415)", [],
                      {(): values.get(_UNAUTHENTICATED, 0)})
        if self._backlog is not None:
            yield _family(GaugeMetricFamily, "selfheal_inbox_backlog",
                          "Requests received in this process, not yet "
                          "stored", [], {(): self._backlog()})


def _family(kind: type, name: str, doc: str, labels: list[str],
            values: dict[tuple[str, ...], float]) -> Metric:
    """A counter or gauge family, one sample per key of `values`."""
    family = kind(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _summed(values: dict[tuple[str, ...], float],
            keep: Callable[[tuple[str, ...]], Optional[tuple[str, ...]]]
            ) -> dict[tuple[str, ...], float]:
    """`values` re-keyed by `keep` (None drops a key), summed."""
    out: dict[tuple[str, ...], float] = {}
    for key, value in values.items():
        new = keep(key)
        if new is not None:
            out[new] = out.get(new, 0) + value
    return out


def _ledger_families(stats: LedgerStats, now: float) -> Iterator[Metric]:
    counter, gauge = CounterMetricFamily, GaugeMetricFamily
    yield _family(counter, "selfheal_decisions",
                  "Decisions recorded, by action and reason",
                  ["action", "reason"], stats.decisions)
    yield _family(counter, "selfheal_ingest_rejections",
                  "Input refused (malformed, not a unit...), by reason",
                  ["reason"], _summed(stats.decisions, lambda k: (
                      k[1],) if k[0] == "reject" else None))

    attempts = stats.attempts
    yield _family(counter, "selfheal_executions_started",
                  "Workflow executions Mistral accepted, by operation kind",
                  ["kind"], _summed(attempts, lambda k: (
                      k[0],) if k[1] != "START_FAILED" else None))
    yield _family(counter, "selfheal_executions_finished",
                  "Workflow executions ended, by operation kind and "
                  "outcome (SUCCESS, FAILED, STUCK, LOST)",
                  ["kind", "outcome"], _summed(attempts, lambda k: k if k[
                      1] not in ("START_FAILED", "STARTED") else None))
    yield _family(counter, "selfheal_executions_start_failed",
                  "Starts Mistral refused or did not answer", ["kind"],
                  _summed(attempts, lambda k: (
                      k[0],) if k[1] == "START_FAILED" else None))

    operations = stats.operations
    yield _family(counter, "selfheal_operations_ended",
                  "Stack operations ended, by kind and state",
                  ["kind", "state"], _summed(
                      operations, lambda k: k if k[1] in _ENDED else None))
    yield _family(gauge, "selfheal_operations_open",
                  "Stack operations not ended, by kind and state",
                  ["kind", "state"], _summed(
                      operations, lambda k: None if k[1] in _ENDED else k))
    yield _family(gauge, "selfheal_oldest_open_operation_age_seconds",
                  "Age of the oldest stack operation not ended (none: "
                  "no sample)", ["kind"],
                  {(kind,): max(0.0, now - created)
                   for kind, created in stats.oldest_open.items()})
    yield _family(gauge, "selfheal_open_intents",
                  "Accepted heals not ended: PENDING (queued, the backlog) "
                  "or BATCHED (in an operation)", ["state"],
                  {(state,): n for state, n in stats.open_intents.items()})

    held = stats.held_units
    yield _family(gauge, "selfheal_held_units", "Units held, by reason",
                  ["reason"], _summed(held, lambda k: (k[0],)))
    yield _family(gauge, "selfheal_storm_guard_held_units",
                  "Units the storm guard holds, by group (its nested stack "
                  "id); above 0: the guard is active", ["group"],
                  _summed(held, lambda k: (k[1],) if k[0] ==
                          Reason.STORM_GUARD.value else None))
    holds = {(scope, kind): 1 for scope, kind, _since in stats.holds}
    yield _family(gauge, "selfheal_breaker_open",
                  "1 per open circuit breaker, by scope (a root stack id, "
                  "or global)", ["scope"], _summed(holds, lambda k: (
                      k[0],) if k[1] == HoldKind.BREAKER else None))
    yield _family(gauge, "selfheal_holds",
                  "Holds in force, by kind (operator, breaker, trust, "
                  "pause, shadow)", ["kind"],
                  _summed(holds, lambda k: (k[1],)))

    yield _histogram(
        "selfheal_fault_to_dispatch_seconds", "Per unit: from its fault "
        "(the alarm's raise) to its operation's first start",
        stats.fault_to_dispatch)
    yield _histogram(
        "selfheal_fault_to_healed_seconds", "Per unit: from its fault to "
        "its operation's success", stats.fault_to_healed)
    yield _family(counter, "selfheal_ledger_events",
                  "Events the replicas counted in the ledger (start "
                  "errors, poison requests...)", ["event"],
                  {(name,): v for name, v in stats.counters.items()})


_ENDED = {BatchState.SUCCESS, BatchState.FAILED, BatchState.CANCELLED,
          BatchState.SHADOWED}


def _histogram(name: str, doc: str,
               samples: Iterable[tuple[str, float]]) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=["kind"])
    by_kind: dict[str, list[float]] = {}
    for kind, seconds in samples:
        # A clock step between two replicas can make a delta negative.
        by_kind.setdefault(kind, []).append(max(0.0, seconds))
    for kind, values in sorted(by_kind.items()):
        buckets = [(_le(bound), float(sum(1 for v in values if v <= bound)))
                   for bound in LATENCY_BUCKETS]
        buckets.append(("+Inf", float(len(values))))
        family.add_metric([kind], buckets, sum_value=sum(values))
    return family


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != int(bound) else f"{bound:.1f}"
