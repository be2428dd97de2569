"""GET /metrics: Prometheus' text format, optionally behind a bearer token.

Plain WSGI, mounted by the webhook receiver or served on a listener of its
own (`serve_metrics`) by processes without one.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Optional

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from vitrage_selfheal import metrics
from vitrage_selfheal.clock import Clock
from vitrage_selfheal.metrics.collector import LedgerCollector
from vitrage_selfheal.metrics.opts import GROUP

LOG = logging.getLogger(__name__)

__all__ = ["METRICS_PATH", "MetricsEndpoint", "for_app", "serve_metrics"]

METRICS_PATH = "/metrics"
REFUSED_COUNTER = "metrics.unauthorized"

StartResponse = Callable[..., Any]


class MetricsEndpoint:
    """A WSGI application answering GET /metrics."""

    def __init__(self, registry: CollectorRegistry, token: str = "",
                 counters: Optional[metrics.Counters] = None) -> None:
        self.registry = registry
        self._token = token.encode("utf-8")
        self._counters = counters or metrics.default()

    def __call__(self, environ: dict[str, Any],
                 start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != METRICS_PATH:
            return _reply(start_response, "404 Not Found", b"not found\n")
        if environ.get("REQUEST_METHOD", "GET") != "GET":
            return _reply(start_response, "405 Method Not Allowed",
                          b"use GET\n", [("Allow", "GET")])
        if self._token and not self._authorized(environ):
            self._counters.inc(REFUSED_COUNTER)
            return _reply(start_response, "401 Unauthorized",
                          b"a bearer token is required\n",
                          [("WWW-Authenticate", "Bearer")])
        return _reply(start_response, "200 OK",
                      generate_latest(self.registry), content_type=None)

    def _authorized(self, environ: dict[str, Any]) -> bool:
        scheme, _, given = str(environ.get("HTTP_AUTHORIZATION", "")
                               ).partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8"), self._token)


def _reply(start_response: StartResponse, status: str, body: bytes,
           extra: Iterable[tuple[str, str]] = (),
           content_type: Optional[str] = "text/plain; charset=utf-8"
           ) -> list[bytes]:
    headers = [("Content-Type", content_type or CONTENT_TYPE_LATEST),
               ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [body]


def for_app(app: Any, clock: Optional[Clock] = None) -> MetricsEndpoint:
    """The endpoint of a running App: its ledger, counters and inbox."""
    from vitrage_selfheal.ledger import stats

    conf = app.conf[GROUP]
    ledger = app.healer.ledger
    registry = CollectorRegistry(auto_describe=False)
    inbox = app.inbox
    registry.register(LedgerCollector(
        lambda now: stats.read(ledger, now), clock or app.healer.clock,
        app.counters, conf.cache_ttl,
        backlog=(lambda: len(inbox)) if inbox is not None else None))
    return MetricsEndpoint(registry, conf.token, app.counters)


def serve_metrics(endpoint: MetricsEndpoint, conf: Any,
                  host: Optional[str] = None,
                  port: Optional[int] = None) -> Any:
    """A listener of its own in a daemon thread; `.shutdown()` stops it."""
    from vitrage_selfheal.ingest.server import WebhookServer

    group = conf[GROUP]
    server = WebhookServer(endpoint,
                           host if host is not None else group.bind_host,
                           port if port is not None else group.port, conf)
    address, bound = server.server_address
    threading.Thread(target=server.serve_forever, daemon=True,
                     name="selfheal-metrics").start()
    LOG.info("selfheal metrics on http://%s:%s%s", address, bound,
             METRICS_PATH)
    return server
