"""The HTTP receiver of signed notifications (`vitrage-selfheal serve`).

POST /v1/notifications with body `{"notification": <event type>,
"payload": {...}}`, signed as `sign` does; GET /healthz (200, or 503
naming what is wrong; unauthenticated, so no counters). Plain WSGI, served
by cheroot (ingest/server.py): two endpoints do not justify a framework.

Requests refused before their signature is verified (401, 413, 415) are
counted and logged at most once per `refused_log_interval`, never written
to the ledger: anyone who reaches the port can send them.

Signature: HMAC-SHA256 over `f"{timestamp}.".encode() + body`, hex, in
`X-Selfheal-Signature: sha256=<hex>`, the timestamp (integer seconds) in
`X-Selfheal-Timestamp`. Signing the timestamp with the body and bounding
its age makes a captured request useless after `max_skew` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
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
    deliver,
    ingest,
)
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.parse import Rejection, patterns
from vitrage_selfheal.ingest.server import WebhookServer
from vitrage_selfheal.logs import Throttled
from vitrage_selfheal.model import Reason

LOG = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Selfheal-Signature"
TIMESTAMP_HEADER = "X-Selfheal-Timestamp"
NOTIFICATIONS_PATH = "/v1/notifications"
HEALTH_PATH = "/healthz"
SOURCE = "webhook"
_SCHEME = "sha256="

# Requests refused before their signature was verified: 401, 413, 415.
UNAUTHENTICATED_COUNTER = "webhook.unauthenticated"
REPLAYED_COUNTER = "webhook.replayed"
INTERNAL_ERROR_COUNTER = "webhook.internal_error"

StartResponse = Callable[..., Any]
HealthCheck = Callable[[], Health]


def _material(ts: str, body: bytes) -> bytes:
    return f"{ts}.".encode() + body


def _key(secret: Union[str, bytes]) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: Union[str, bytes], body: bytes,
         ts: Union[int, float]) -> dict[str, str]:
    """The signature headers for `body` sent at time `ts` (epoch seconds)."""
    stamp = str(int(ts))
    digest = hmac.new(_key(secret), _material(stamp, body),
                      hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: _SCHEME + digest}


def verify(secret: Union[str, bytes], body: bytes, ts_header: Optional[str],
           sig_header: Optional[str], now: float,
           max_skew: float) -> Optional[str]:
    """None if the request is authentic and fresh, else why not."""
    if not ts_header or not sig_header:
        return "unsigned request"
    # isdigit() alone accepts '²' and other digits int() cannot read.
    if not (ts_header.isascii() and ts_header.isdigit()) or \
            len(ts_header) > 12:
        return "bad timestamp"
    if abs(now - int(ts_header)) > max_skew:
        return "stale or future timestamp"
    if not sig_header.startswith(_SCHEME):
        return "bad signature"
    expected = hmac.new(_key(secret), _material(ts_header, body),
                        hashlib.sha256).hexdigest()
    given = sig_header[len(_SCHEME):].strip()
    # compare_digest on ASCII str raises TypeError for non-ASCII input.
    if not given.isascii() or not hmac.compare_digest(expected, given):
        return "bad signature"
    return None


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
                 health: Optional[HealthCheck] = None) -> None:
        group = conf[ingest_opts.WEBHOOK_GROUP]
        if not group.secret:
            # Fail closed: an unsigned receiver would let anyone on the
            # network trigger replacements.
            raise ValueError(f"[{ingest_opts.WEBHOOK_GROUP}] secret is not "
                             f"set; refusing to accept unsigned requests")
        patterns(conf)  # a bad regex fails here, not on the first alarm
        self._sink = sink
        self._conf = conf
        self._secret = _key(group.secret)
        self._max_skew = group.max_skew
        self._max_body = group.max_body
        self._clock = clock or SystemClock()
        self.stats = stats or IngestStats()
        self.counters = (counters or getattr(sink, "counters", None)
                         or metrics.default())
        self._health = health or getattr(sink, "health", None)
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
                          environ.get("PATH_INFO"), _peer(environ))
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
        if path != NOTIFICATIONS_PATH:
            return _reply(start_response, 404, {"error": "not found"})
        if method != "POST":
            return _reply(start_response, 405, {"error": "use POST"},
                          allow="POST")
        status, document = self._notification(environ)
        return _reply(start_response, status, document)

    def _notification(self, environ: dict[str, Any]
                      ) -> tuple[int, dict[str, Any]]:
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
        body = environ["wsgi.input"].read(length) if length > 0 else b""

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


def _delivery(environ: dict[str, Any]) -> str:
    """The verified signature's digest: one per (timestamp, body)."""
    signature = str(environ.get("HTTP_X_SELFHEAL_SIGNATURE", ""))
    return signature[len(_SCHEME):].strip().lower()


def _peer(environ: dict[str, Any]) -> str:
    return str(environ.get("REMOTE_ADDR", "?"))


def make_server(sink: RequestSink, conf: Any, host: Optional[str] = None,
                port: Optional[int] = None, clock: Optional[Clock] = None,
                stats: Optional[IngestStats] = None,
                counters: Optional[metrics.Counters] = None,
                health: Optional[HealthCheck] = None) -> WebhookServer:
    """A bound, not yet serving, server; port 0 picks a free port."""
    group = conf[ingest_opts.WEBHOOK_GROUP]
    app = WebhookApp(sink, conf, clock=clock, stats=stats,
                     counters=counters, health=health)
    return WebhookServer(app,
                         host if host is not None else group.bind_host,
                         port if port is not None else group.port, conf)


def serve(sink: RequestSink, conf: Any, host: Optional[str] = None,
          port: Optional[int] = None,
          clock: Optional[Clock] = None) -> None:
    """Serve until interrupted."""
    server = make_server(sink, conf, host, port, clock)
    address, bound = server.server_address[:2]
    LOG.info("selfheal webhook receiver on http://%s:%s%s", address, bound,
             NOTIFICATIONS_PATH)
    try:
        server.serve_forever()
    finally:
        server.server_close()
