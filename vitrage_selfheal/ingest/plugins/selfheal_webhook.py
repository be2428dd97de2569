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

import json
import logging
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
from vitrage_selfheal.ingest.webhook import sign

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
]

# Statuses after which the same request can succeed.
_RETRYABLE_4XX = frozenset({408, 429})


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
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self._url = _setting("url", url)
        self._secret = _setting("secret", secret)
        self._timeout = float(_setting("timeout", timeout))
        self._max_retries = int(_setting("max_retries", max_retries))
        self._retry_delay = float(_setting("retry_delay", retry_delay))
        self._session = session or requests.Session()
        self._clock = clock or SystemClock()
        self._sleep = sleep
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
            self.post(body, event_type)
        except Exception:
            LOG.exception("selfheal_webhook failed on %s: %s", event_type,
                          body.decode("utf-8", "replace"))

    def post(self, body: bytes, event_type: str = "") -> bool:
        """Send one body; True once the receiver accepted it."""
        attempts = self._max_retries + 1
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
            if response.status_code < 300:
                return True
            failure = f"HTTP {response.status_code}: {response.text[:300]}"
            if response.status_code < 500 and \
                    response.status_code not in _RETRYABLE_4XX:
                break
        # The body is the only copy of the notification: log all of it.
        LOG.error("selfheal_webhook could not deliver %s to %s (%s); "
                  "notification dropped: %s", event_type, self._url, failure,
                  body.decode("utf-8", "replace"))
        return False
