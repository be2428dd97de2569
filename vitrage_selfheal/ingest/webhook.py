"""The HTTP receiver of signed notifications (`vitrage-selfheal serve`).

POST /v1/notifications with body `{"notification": <event type>,
"payload": {...}}`, signed as `sign` does; POST /v1/scale/<token>, an
Aodh alarm action on a scale link (ingest/scale_links.py, ingest/aodh.py);
GET /healthz (200, or 503 naming what is wrong; unauthenticated, so no
counters); GET /metrics when a metrics endpoint is mounted
(metrics/endpoint.py, with its own token). Plain WSGI, served by cheroot
(ingest/server.py): four endpoints do not justify a framework.

Requests refused before their signature is verified (401, 413, 415) are
counted and logged at most once per `refused_log_interval`, never written
to the ledger: anyone who reaches the port can send them.

Signatures: ingest/signing.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any, Optional, Union

from vitrage_selfheal import metrics
from vitrage_selfheal.clock import Clock, SystemClock
from vitrage_selfheal.health import Health
from vitrage_selfheal.ingest import (
    IngestStats,
    Outcome,
    OutcomeKind,
    RequestSink,
    aodh,
    deliver,
    ingest,
    scale_links,
)
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.parse import Ignored, Rejection, patterns
from vitrage_selfheal.ingest.server import WebhookServer
from vitrage_selfheal.ingest.signing import (
    _SCHEME,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    secret_bytes,
    sign,
    verify,
)
from vitrage_selfheal.logs import Throttled
from vitrage_selfheal.metrics.endpoint import METRICS_PATH
from vitrage_selfheal.model import Reason

LOG = logging.getLogger(__name__)

__all__ = ["HEALTH_PATH", "NOTIFICATIONS_PATH", "SIGNATURE_HEADER",
           "TIMESTAMP_HEADER", "WebhookApp", "make_server", "serve", "sign",
           "verify"]

NOTIFICATIONS_PATH = "/v1/notifications"
HEALTH_PATH = "/healthz"
SOURCE = "webhook"

# Requests refused before their signature was verified: 401, 413, 415.
UNAUTHENTICATED_COUNTER = "webhook.unauthenticated"
REPLAYED_COUNTER = "webhook.replayed"
INTERNAL_ERROR_COUNTER = "webhook.internal_error"
SCALE_NOT_RECORDED_COUNTER = "webhook.scale_not_recorded"

StartResponse = Callable[..., Any]
HealthCheck = Callable[[], Health]


class WebhookApp:
    """WSGI application; thread-safe if the sink is.

    `health` (default: the sink's `health` method, if it has one) and
    `counters` (default: the sink's, else the process-wide registry)
    feed GET /healthz.
    """

    def __init__(self, sink: RequestSink, conf: Any,
                 clock: Optional[Clock] = None,
                 stats: Optional[IngestStats] = None,
                 counters: Optional[metrics.Counters] = None,
                 health: Optional[HealthCheck] = None,
                 metrics_endpoint: Optional[Callable[..., Iterable[bytes]]]
                 = None) -> None:
        group = conf[ingest_opts.WEBHOOK_GROUP]
        if not group.secret:
            # Fail closed: an unsigned receiver would let anyone on the
            # network trigger replacements.
            raise ValueError(f"[{ingest_opts.WEBHOOK_GROUP}] secret is not "
                             f"set; refusing to accept unsigned requests")
        patterns(conf)  # a bad regex fails here, not on the first alarm
        self._sink = sink
        self._conf = conf
        self._secret = secret_bytes(group.secret)
        self._max_skew = group.max_skew
        self._max_body = group.max_body
        self._clock = clock or SystemClock()
        self.stats = stats or IngestStats()
        self.counters = (counters or getattr(sink, "counters", None)
                         or metrics.default())
        self._health = health or getattr(sink, "health", None)
        self._metrics = metrics_endpoint
        self._refused_log = Throttled(LOG, logging.WARNING,
                                      group.refused_log_interval,
                                      self._clock)

    def __call__(self, environ: dict[str, Any],
                 start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._route(environ, start_response)
        except OSError:
            # The connection failed (a silent client timed out, a reset):
            # the server's to answer (408) or drop, and not a bug here.
            # Were it caught below, anyone could fill our log with tracebacks.
            raise
        except Exception:
            # A bug here must cost one request, never the worker; the
            # sender retries a 500.
            self.counters.inc(INTERNAL_ERROR_COUNTER)
            LOG.exception("webhook: internal error on %s %s from %s",
                          environ.get("REQUEST_METHOD"),
                          _shown_path(environ), _peer(environ))
            return _reply(start_response, 500, {"error": "internal error"})

    def _route(self, environ: dict[str, Any],
               start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH:
            if method != "GET":
                return _reply(start_response, 405, {"error": "use GET"},
                              allow="GET")
            status, document = self._healthz()
            return _reply(start_response, status, document)
        if path == METRICS_PATH and self._metrics is not None:
            return self._metrics(environ, start_response)
        if path == NOTIFICATIONS_PATH:
            handler = self._notification
        elif path.startswith(scale_links.PREFIX):
            handler = self._scale_action
        else:
            return _reply(start_response, 404, {"error": "not found"})
        if method != "POST":
            return _reply(start_response, 405, {"error": "use POST"},
                          allow="POST")
        status, document = handler(environ)
        return _reply(start_response, status, document)

    def _read_json(self, environ: dict[str, Any]
                   ) -> Union[bytes, tuple[int, dict[str, Any]]]:
        """The body, or the refusal at the door (bad length, too big, not
        JSON by its content type)."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self._refuse_unauthenticated(400, "bad Content-Length",
                                                environ)
        if length > self._max_body:
            _drain(environ["wsgi.input"], length, 4 * self._max_body)
            return self._refuse_unauthenticated(
                413, f"body of {length} bytes exceeds {self._max_body}",
                environ)
        media = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip()
        if media.lower() != "application/json":
            # Decided before the body is read, like 413: a refusal at the
            # door, counted, no ledger row (the signature does not cover
            # this header, so anyone can send it).
            _drain(environ["wsgi.input"], length, length)
            return self._refuse_unauthenticated(
                415, f"content type {media[:60]!r} is not "
                     f"application/json", environ)
        return environ["wsgi.input"].read(length) if length > 0 else b""

    def _notification(self, environ: dict[str, Any]
                      ) -> tuple[int, dict[str, Any]]:
        body = self._read_json(environ)
        if isinstance(body, tuple):
            return body
        why = verify(self._secret, body,
                     environ.get("HTTP_X_SELFHEAL_TIMESTAMP"),
                     environ.get("HTTP_X_SELFHEAL_SIGNATURE"),
                     self._clock.now(), self._max_skew)
        if why is not None:
            self.stats.count("unauthorized")
            return self._refuse_unauthenticated(401, why, environ)

        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return self._refuse(400, f"body is not JSON: {exc}", environ)
        if not isinstance(document, dict) or \
                not isinstance(document.get("notification"), str) or \
                "payload" not in document:
            return self._refuse(400, "body is not {\"notification\": "
                                     "<event type>, \"payload\": ...}",
                                environ)

        outcome = ingest(document["notification"], document["payload"],
                         SOURCE, self._conf, self._sink, self.stats,
                         delivery=_delivery(environ))
        if outcome.kind is OutcomeKind.REPLAYED:
            return self._replayed(outcome, environ)
        if outcome.kind is OutcomeKind.FAILED:
            # 503 so that the sender retries; the sink de-duplicates by
            # alarm key if the first attempt was recorded after all.
            return 503, _document(outcome)
        return 202, _document(outcome)

    def _scale_action(self, environ: dict[str, Any]
                      ) -> tuple[int, dict[str, Any]]:
        body = self._read_json(environ)
        if isinstance(body, tuple):
            return body
        try:
            link = scale_links.read(
                self._secret, environ["PATH_INFO"][len(scale_links.PREFIX):])
        except scale_links.LinkInvalid as exc:
            self.stats.count("unauthorized")
            return self._refuse_unauthenticated(401, str(exc), environ)
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return self._refuse(400, f"Aodh alarm action: body is not "
                                     f"JSON: {exc}", environ)
        parsed = aodh.parse_action(document, link)
        if isinstance(parsed, Rejection):
            return self._refuse(400, parsed.detail, environ)
        if isinstance(parsed, Ignored):
            self.stats.count(OutcomeKind.IGNORED.value)
            return 200, {"outcome": OutcomeKind.IGNORED.value,
                         "decisions": [], "detail": parsed.detail}
        try:
            decisions = self._sink.scale(parsed)
        except Exception:
            # Aodh does not retry an answer; its repeat_actions asks again
            # on the next evaluation while the alarm holds.
            self.counters.inc(SCALE_NOT_RECORDED_COUNTER)
            LOG.exception("webhook: scale request NOT recorded: %r", parsed)
            self.stats.count(OutcomeKind.FAILED.value)
            return 503, {"outcome": OutcomeKind.FAILED.value,
                         "decisions": [], "detail": "not recorded"}
        self.stats.count(OutcomeKind.SUBMITTED.value)
        return 202, {"outcome": OutcomeKind.SUBMITTED.value,
                     "decisions": [str(d) for d in decisions],
                     "detail": link.describe()}

    def _healthz(self) -> tuple[int, dict[str, Any]]:
        try:
            health = self._health() if self._health else Health()
        except Exception as exc:
            LOG.exception("health check failed")
            health = Health((f"health check failed: "
                             f"{type(exc).__name__}: {exc}",))
        # Anyone who reaches the port may ask: status and problems only;
        # the counters are this process's business.
        document = {"status": "ok" if health.ok else "degraded",
                    "problems": list(health.problems)}
        return (200 if health.ok else 503), document

    def _refuse_unauthenticated(self, status: int, why: str,
                                environ: dict[str, Any]
                                ) -> tuple[int, dict[str, Any]]:
        # Anyone who can reach the port can send these: a ledger row each
        # would let them fill the ledger, a log line each the disk. A
        # misconfigured sender (wrong secret, skewed clock) still shows:
        # in the counter on /healthz and in a WARNING per interval.
        self.counters.inc(UNAUTHENTICATED_COUNTER)
        detail = f"{why} from {_peer(environ)}"
        self._refused_log.log("webhook: refused with HTTP %d: %s", status,
                              detail)
        return status, {"outcome": "refused", "decisions": [],
                        "detail": detail, "error": detail}

    def _refuse(self, status: int, detail: str,
                environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        # Authenticated but malformed: recorded through the sink like any
        # other malformed input, so that a broken sender is visible in
        # the ledger and not only in this process's log.
        outcome = deliver(Rejection(Reason.MALFORMED, detail), self._sink,
                          SOURCE, self.stats, delivery=_delivery(environ))
        if outcome.kind is OutcomeKind.REPLAYED:
            return self._replayed(outcome, environ)
        document = _document(outcome)
        document["error"] = detail
        return status, document

    def _replayed(self, outcome: Outcome, environ: dict[str, Any]
                  ) -> tuple[int, dict[str, Any]]:
        # Within the skew window a captured request still verifies:
        # applied twice it could heal a healthy replacement or cancel a
        # real heal. Counted, not a ledger row: anyone holding one
        # captured request could send it a million times. 409 tells an
        # honest sender that its first try was recorded.
        self.counters.inc(REPLAYED_COUNTER)
        self._refused_log.log("webhook: replayed delivery refused from %s",
                              _peer(environ))
        return 409, _document(outcome)


def _document(outcome: Outcome) -> dict[str, Any]:
    return {"outcome": outcome.kind.value,
            "decisions": [str(d) for d in outcome.decisions],
            "detail": outcome.detail}


_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request",
            401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict",
            413: "Content Too Large", 415: "Unsupported Media Type",
            500: "Internal Server Error",
            503: "Service Unavailable"}


def _reply(start_response: StartResponse, status: int,
           document: dict[str, Any], **extra: str) -> list[bytes]:
    body = json.dumps(document).encode("utf-8")
    headers = [("Content-Type", "application/json"),
               ("Content-Length", str(len(body)))]
    headers += [(name.capitalize(), value) for name, value in extra.items()]
    start_response(f"{status} {_REASONS.get(status, '')}".rstrip(), headers)
    return [body]


def _drain(stream: Any, length: int, limit: int) -> None:
    # Closing a socket with unread input makes the kernel send a reset,
    # which can destroy the 413 before the client reads it; past `limit`
    # the client gets the reset, not our bandwidth.
    left = min(length, limit)
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            return
        left -= len(chunk)


def _delivery(environ: dict[str, Any]) -> Optional[str]:
    """The verified signature's digest: one per (timestamp, body); None
    for an unsigned request (an Aodh action on a scale link)."""
    signature = str(environ.get("HTTP_X_SELFHEAL_SIGNATURE", ""))
    return signature[len(_SCHEME):].strip().lower() or None


def _shown_path(environ: dict[str, Any]) -> str:
    # A scale link's token is a capability: never in our log.
    path = str(environ.get("PATH_INFO", ""))
    if path.startswith(scale_links.PREFIX):
        return scale_links.PREFIX + "<token>"
    return path


def _peer(environ: dict[str, Any]) -> str:
    return str(environ.get("REMOTE_ADDR", "?"))


def make_server(sink: RequestSink, conf: Any, host: Optional[str] = None,
                port: Optional[int] = None, clock: Optional[Clock] = None,
                stats: Optional[IngestStats] = None,
                counters: Optional[metrics.Counters] = None,
                health: Optional[HealthCheck] = None,
                metrics_endpoint: Optional[Callable[..., Iterable[bytes]]]
                = None) -> WebhookServer:
    """A bound, not yet serving, server; port 0 picks a free port."""
    group = conf[ingest_opts.WEBHOOK_GROUP]
    app = WebhookApp(sink, conf, clock=clock, stats=stats,
                     counters=counters, health=health,
                     metrics_endpoint=metrics_endpoint)
    return WebhookServer(app,
                         host if host is not None else group.bind_host,
                         port if port is not None else group.port, conf)


def serve(sink: RequestSink, conf: Any, host: Optional[str] = None,
          port: Optional[int] = None,
          clock: Optional[Clock] = None,
          metrics_endpoint: Optional[Callable[..., Iterable[bytes]]] = None
          ) -> None:
    """Serve until interrupted."""
    server = make_server(sink, conf, host, port, clock,
                         metrics_endpoint=metrics_endpoint)
    address, bound = server.server_address[:2]
    LOG.info("selfheal webhook receiver on http://%s:%s%s", address, bound,
             NOTIFICATIONS_PATH)
    try:
        server.serve_forever()
    finally:
        server.server_close()
