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
        events = CounterMetricFamily(
            "selfheal_process_events", "Events this process counted "
            "without a ledger row (refused requests, read errors...)",
            labels=["event"])
        for name, value in values.items():
            events.add_metric([name], value)
        yield events
        refused = CounterMetricFamily(
            "selfheal_webhook_unauthenticated",
            "Webhook requests refused before their signature was "
            "verified (401, 413, 415)")
        refused.add_metric([], values.get(_UNAUTHENTICATED, 0))
        yield refused
        if self._backlog is not None:
            backlog = GaugeMetricFamily(
                "selfheal_inbox_backlog",
                "Requests received in this process, not yet stored")
            backlog.add_metric([], self._backlog())
            yield backlog


def _ledger_families(stats: LedgerStats, now: float) -> Iterator[Metric]:
    decisions = CounterMetricFamily(
        "selfheal_decisions", "Decisions recorded, by action and reason",
        labels=["action", "reason"])
    rejections = CounterMetricFamily(
        "selfheal_ingest_rejections", "Input refused (malformed, not a "
        "unit...), by reason", labels=["reason"])
    for (action, reason), n in sorted(stats.decisions.items()):
        decisions.add_metric([action, reason], n)
        if action == "reject":
            rejections.add_metric([reason], n)
    yield decisions
    yield rejections

    started = CounterMetricFamily(
        "selfheal_executions_started", "Workflow executions Mistral "
        "accepted, by operation kind", labels=["kind"])
    finished = CounterMetricFamily(
        "selfheal_executions_finished", "Workflow executions ended, by "
        "operation kind and outcome (SUCCESS, FAILED, STUCK, LOST)",
        labels=["kind", "outcome"])
    start_failed = CounterMetricFamily(
        "selfheal_executions_start_failed", "Starts Mistral refused or "
        "did not answer", labels=["kind"])
    started_by_kind: dict[str, int] = {}
    failed_by_kind: dict[str, int] = {}
    for (kind, outcome), n in sorted(stats.attempts.items()):
        if outcome == "START_FAILED":
            failed_by_kind[kind] = failed_by_kind.get(kind, 0) + n
            continue
        started_by_kind[kind] = started_by_kind.get(kind, 0) + n
        if outcome != "STARTED":
            finished.add_metric([kind, outcome], n)
    for kind, n in sorted(started_by_kind.items()):
        started.add_metric([kind], n)
    for kind, n in sorted(failed_by_kind.items()):
        start_failed.add_metric([kind], n)
    yield started
    yield finished
    yield start_failed

    ended = CounterMetricFamily(
        "selfheal_operations_ended", "Stack operations ended, by kind and "
        "state", labels=["kind", "state"])
    open_ops = GaugeMetricFamily(
        "selfheal_operations_open", "Stack operations not ended, by kind "
        "and state", labels=["kind", "state"])
    for (kind, state), n in sorted(stats.operations.items()):
        (ended if state in _ENDED else open_ops).add_metric([kind, state],
                                                            n)
    yield ended
    yield open_ops

    oldest = GaugeMetricFamily(
        "selfheal_oldest_open_operation_age_seconds", "Age of the oldest "
        "stack operation not ended (0: none)", labels=["kind"])
    for kind, created in sorted(stats.oldest_open.items()):
        oldest.add_metric([kind], max(0.0, now - created))
    yield oldest

    intents = GaugeMetricFamily(
        "selfheal_open_intents", "Accepted heals not ended: PENDING "
        "(queued, the backlog) or BATCHED (in an operation)",
        labels=["state"])
    for state, n in sorted(stats.open_intents.items()):
        intents.add_metric([state], n)
    yield intents

    held = GaugeMetricFamily(
        "selfheal_held_units", "Units held, by reason", labels=["reason"])
    storm = GaugeMetricFamily(
        "selfheal_storm_guard_held_units", "Units the storm guard holds, "
        "by group (its nested stack id); above 0: the guard is active",
        labels=["group"])
    by_reason: dict[str, int] = {}
    for (reason, group), n in sorted(stats.held_units.items()):
        by_reason[reason] = by_reason.get(reason, 0) + n
        if reason == Reason.STORM_GUARD.value:
            storm.add_metric([group], n)
    for reason, n in sorted(by_reason.items()):
        held.add_metric([reason], n)
    yield held
    yield storm

    breakers = GaugeMetricFamily(
        "selfheal_breaker_open", "1 per open circuit breaker, by scope "
        "(a root stack id, or global)", labels=["scope"])
    holds = GaugeMetricFamily(
        "selfheal_holds", "Holds in force, by kind (operator, breaker, "
        "trust, pause, shadow)", labels=["kind"])
    kinds: dict[str, int] = {}
    for scope, kind, _since in stats.holds:
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == HoldKind.BREAKER:
            breakers.add_metric([scope], 1.0)
    for kind, n in sorted(kinds.items()):
        holds.add_metric([kind], n)
    yield breakers
    yield holds

    yield _histogram(
        "selfheal_fault_to_dispatch_seconds", "Per unit: from its fault "
        "(the alarm's raise) to its operation's first start",
        stats.fault_to_dispatch)
    yield _histogram(
        "selfheal_fault_to_healed_seconds", "Per unit: from its fault to "
        "its operation's success", stats.fault_to_healed)

    counters = CounterMetricFamily(
        "selfheal_ledger_events", "Events the replicas counted in the "
        "ledger (start errors, poison requests...)", labels=["event"])
    for name, value in sorted(stats.counters.items()):
        counters.add_metric([name], value)
    yield counters


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
