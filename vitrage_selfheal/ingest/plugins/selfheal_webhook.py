"""Vitrage notifier plugin `selfheal_webhook`: forwards graph events, signed,
to a selfheal receiver running elsewhere (`vitrage-selfheal serve`).

Unlike Vitrage's stock webhook it sends the payload unfiltered, so the
unit vertex's properties (stack ids, physical id, group size) survive.

vitrage.conf::

    [DEFAULT]
    notifiers = selfheal_webhook
    notifiers_path = vitrage.notifier.plugins,vitrage_selfheal.ingest.plugins

    [selfheal_webhook]
    url = http://selfheal.example:9779/v1/notifications
    secret = <the receiver's [selfheal_webhook] secret>
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Optional

import requests
from oslo_config import cfg

from vitrage_selfheal.clock import Clock, SystemClock
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.parse import as_dict
from vitrage_selfheal.ingest.plugins.common import (
    GraphEventNotifier,
    notifier_opt,
)
from vitrage_selfheal.ingest.signing import sign
from vitrage_selfheal.ledger.spool import Spool, SpoolFull

LOG = logging.getLogger(__name__)

NAME = "selfheal_webhook"

OPTS = [
    notifier_opt(__name__, "SelfHealWebhookNotifier",
                 "selfheal webhook notifier"),
    cfg.StrOpt("url", default="",
               help="The receiver's notifications URL, e.g. "
                    "http://host:9779/v1/notifications."),
    ingest_opts.SECRET_OPT,
    cfg.FloatOpt("timeout", default=5.0, min=0.1,
                 help="Seconds per connect and per read of one attempt."),
    cfg.IntOpt("max_retries", default=2, min=0,
               help="Further attempts after a connection error, timeout or "
                    "5xx. A 4xx is not retried: the same request would be "
                    "refused again."),
    cfg.FloatOpt("retry_delay", default=0.5, min=0.0,
                 help="Seconds before the first retry; doubled for each "
                      "further one."),
    cfg.StrOpt("spool_path", default="/var/lib/vitrage/selfheal_webhook"
                                     ".spool",
               help="File (fsynced) that keeps notifications the receiver "
                    "could not take after the retries (down, or its "
                    "ledger down: 503); resent in order from a background "
                    "thread. Empty: such notifications are logged in full "
                    "and dropped."),
    cfg.IntOpt("spool_max_bytes", default=64 * 1024 * 1024, min=4096,
               help="Size at which the spool refuses more (logged at "
                    "ERROR with the whole notification)."),
    cfg.FloatOpt("resend_interval", default=5.0, min=0.1,
                 help="Seconds between attempts to resend the spool."),
]

# Statuses after which the same request can succeed.
_RETRYABLE_4XX = frozenset({408, 429})
# The receiver recorded this delivery already (our retry of a request
# whose answer was lost): delivered.
_ALREADY_RECORDED = 409


class Sent(enum.Enum):
    DELIVERED = "delivered"
    # A 4xx: the same request would be refused again.
    REFUSED = "refused"
    # Down, timing out, or 5xx after the retries: worth resending later.
    FAILED = "failed"


def _setting(name: str, given: Any) -> Any:
    if given is not None:
        return given
    try:
        return cfg.CONF[NAME][name]
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return next(opt.default for opt in OPTS if opt.dest == name)


def _jsonable(value: Any) -> Any:
    # Vertex objects (in-memory transport) and timestamps; a real bus has
    # already turned everything into JSON types.
    as_mapping = as_dict(value)
    return as_mapping if as_mapping is not None else str(value)


class SelfHealWebhookNotifier(GraphEventNotifier):
    """POSTs every graph event; failures are logged, never raised.

    Runs on Vitrage's notifier listener thread, so each event costs at most
    (max_retries + 1) * 2 * timeout plus the retry delays.
    """

    NAME = NAME

    def __init__(self, url: Optional[str] = None,
                 secret: Optional[str] = None,
                 timeout: Optional[float] = None,
                 max_retries: Optional[int] = None,
                 retry_delay: Optional[float] = None,
                 session: Optional[requests.Session] = None,
                 clock: Optional[Clock] = None,
                 sleep: Callable[[float], None] = time.sleep,
                 spool_path: Optional[str] = None) -> None:
        super().__init__()
        self._url = _setting("url", url)
        self._secret = _setting("secret", secret)
        self._timeout = float(_setting("timeout", timeout))
        self._max_retries = int(_setting("max_retries", max_retries))
        self._retry_delay = float(_setting("retry_delay", retry_delay))
        self._session = session or requests.Session()
        self._clock = clock or SystemClock()
        self._sleep = sleep
        path = _setting("spool_path", spool_path)
        self._spool: Optional[Spool[str]] = (
            Spool(path, int(_setting("spool_max_bytes", None)),
                  encode=_as_line, decode=_from_line) if path else None)
        self._resend_interval = float(_setting("resend_interval", None))
        self._resender: Optional[threading.Thread] = None
        self._order = threading.Lock()
        self.stopped = threading.Event()
        if not self._url or not self._secret:
            LOG.error("[%s] url and secret must both be set; notifications "
                      "will be dropped", NAME)

    def handle(self, data: Any, event_type: str) -> None:
        try:
            body = json.dumps({"notification": event_type, "payload": data},
                              default=_jsonable).encode("utf-8")
        except Exception:
            LOG.exception("selfheal_webhook could not encode %s: %r",
                          event_type, data)
            return
        if not self._url or not self._secret:
            LOG.error("selfheal_webhook not configured; dropped %s: %s",
                      event_type, body.decode("utf-8", "replace"))
            return
        try:
            with self._order:
                # While older notifications wait in the spool, newer ones
                # queue behind them: the receiver sees Vitrage's order.
                if self._spool is not None and len(self._spool):
                    self._keep(body, event_type)
                    return
                sent = self._send(body, event_type)
                if sent is Sent.FAILED:
                    self._keep(body, event_type)
        except Exception:
            LOG.exception("selfheal_webhook failed on %s: %s", event_type,
                          body.decode("utf-8", "replace"))

    def post(self, body: bytes, event_type: str = "") -> bool:
        """Send one body; True once the receiver accepted it."""
        return self._send(body, event_type) is Sent.DELIVERED

    def _keep(self, body: bytes, event_type: str) -> None:
        text = body.decode("utf-8", "replace")
        if self._spool is None:
            LOG.error("selfheal_webhook: no spool_path; notification %s "
                      "dropped: %s", event_type, text)
            return
        try:
            self._spool.put(text)
        except (SpoolFull, OSError, ValueError) as exc:
            LOG.error("selfheal_webhook: spool refused (%s); notification "
                      "%s dropped: %s", exc, event_type, text)
            return
        LOG.warning("selfheal_webhook: %s kept in %s for resending",
                    event_type, self._spool.path)
        self._start_resender()

    def _start_resender(self) -> None:
        if self._resender is None or not self._resender.is_alive():
            self._resender = threading.Thread(
                target=self._resend_loop, daemon=True,
                name="selfheal-webhook-resend")
            self._resender.start()

    def _resend_loop(self) -> None:
        while self._spool is not None and len(self._spool):
            if self.stopped.wait(self._resend_interval):
                return
            try:
                self.resend()
            except Exception:
                LOG.exception("selfheal_webhook: resending failed")

    def resend(self) -> int:
        """Send the spool in order until the receiver fails again; how
        many left it (delivered, or refused for good)."""
        if self._spool is None:
            return 0

        def send(text: str) -> None:
            if self._send(text.encode("utf-8"), "resent",
                          retries=0) is Sent.FAILED:
                raise _StillDown()

        with self._order:
            try:
                return self._spool.drain(send)
            except _StillDown:
                return 0

    def _send(self, body: bytes, event_type: str,
              retries: Optional[int] = None) -> Sent:
        attempts = (self._max_retries if retries is None else retries) + 1
        failure = ""
        for attempt in range(attempts):
            if attempt:
                self._sleep(self._retry_delay * 2 ** (attempt - 1))
            # Signed per attempt: a retry after a long timeout must still
            # be inside the receiver's allowed clock skew.
            headers = {"Content-Type": "application/json",
                       **sign(self._secret, body, self._clock.now())}
            try:
                response = self._session.post(self._url, data=body,
                                              headers=headers,
                                              timeout=self._timeout)
            except requests.RequestException as exc:
                failure = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code < 300 or \
                    response.status_code == _ALREADY_RECORDED:
                return Sent.DELIVERED
            failure = f"HTTP {response.status_code}: {response.text[:300]}"
            if response.status_code < 500 and \
                    response.status_code not in _RETRYABLE_4XX:
                # The body is the only copy of the notification: log it.
                LOG.error("selfheal_webhook: %s refused by %s (%s); "
                          "notification dropped: %s", event_type, self._url,
                          failure, body.decode("utf-8", "replace"))
                return Sent.REFUSED
        LOG.error("selfheal_webhook could not deliver %s to %s (%s)",
                  event_type, self._url, failure)
        return Sent.FAILED


class _StillDown(Exception):
    pass


def _as_line(text: str) -> str:
    # JSON-quoted: one ASCII line whatever the notification holds.
    return json.dumps(text)


def _from_line(line: str) -> str:
    text = json.loads(line)
    if not isinstance(text, str):
        raise ValueError("not a spooled notification")
    return text
