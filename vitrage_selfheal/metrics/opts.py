"""Options of `/metrics` ([metrics])."""

from __future__ import annotations

from collections.abc import Sequence

from oslo_config import cfg

GROUP = "metrics"

OPTS = [
    cfg.BoolOpt("on_webhook_port", default=True,
                help="Serve GET /metrics on the webhook receiver's port "
                     "(`vitrage-selfheal serve`)."),
    cfg.PortOpt("port", default=0,
                help="A listener of its own for GET /metrics, for "
                     "processes without the webhook receiver (`vitrage-"
                     "selfheal engine`, Vitrage's notifier) or to keep "
                     "metrics off the port alarm senders reach. 0: none."),
    cfg.HostAddressOpt("bind_host", default="127.0.0.1",
                       help="Address of that listener."),
    # secret: oslo masks it in log_opt_values.
    cfg.StrOpt("token", secret=True, default="",
               help="If set, /metrics answers only requests with "
                    "`Authorization: Bearer <token>` (Prometheus' "
                    "`authorization` scrape setting); unit and stack ids "
                    "are in the labels."),
    cfg.FloatOpt("cache_ttl", default=5.0, min=0.0, max=300.0,
                 help="Seconds a scrape's ledger read is reused by the "
                      "next scrapes."),
]


def list_opts() -> list[tuple[str, Sequence[cfg.Opt]]]:
    return [(GROUP, OPTS)]
