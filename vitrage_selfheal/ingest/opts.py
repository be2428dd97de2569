"""Options of the ingest: which alarms mean what, the webhook receiver, the
Zaqar queue consumer.

The Vitrage-side plugins declare their own module OPTS (Vitrage registers
those in its own CONF under the plugin's name); the options here live in the
selfheal configuration file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from oslo_config import cfg

from vitrage_selfheal.names import HEAL_WORKFLOW, HEAT_UNIT_DATASOURCE

INGEST_GROUP = "selfheal_ingest"
WEBHOOK_GROUP = "selfheal_webhook"
ZAQAR_GROUP = "selfheal_zaqar"

OPTS = [
    cfg.StrOpt("heal_alarm_pattern", default=r"^selfheal\.heal\b",
               help="Regex (searched in the alarm name) of alarms on a "
                    "unit that ask for the unit to be replaced."),
    cfg.StrOpt("suppress_alarm_pattern", default=r"^selfheal\.suppress\b",
               help="Regex of alarms on a unit saying that a root cause "
                    "below it (switch, network) makes replacing it useless; "
                    "the unit is held, not healed."),
    cfg.StrOpt("scale_out_alarm_pattern", default=r"^selfheal\.scale_out\b",
               help="Regex of alarms on a unit asking its group to grow."),
    cfg.StrOpt("scale_in_alarm_pattern", default=r"^selfheal\.scale_in\b",
               help="Regex of alarms on a unit asking its group to shrink."),
    cfg.ListOpt("workflow_names", default=[HEAL_WORKFLOW],
                help="Workflows of vitrage.execute_external_action events "
                     "(execute_mistral) taken as heal requests; others are "
                     "ignored."),
    cfg.StrOpt("unit_vitrage_type", default=HEAT_UNIT_DATASOURCE,
               help="vitrage_type of the unit vertices in Vitrage's graph."),
]

# One object shared with the signing plugin so that registering both in one
# ConfigOpts (tests, all-in-one deployments) is not a duplicate-option error.
SECRET_OPT = cfg.StrOpt(
    "secret", secret=True, default="",
    help="Shared HMAC-SHA256 key of the selfheal webhook sender and "
         "receiver. The receiver refuses to start without one.")

WEBHOOK_OPTS = [
    SECRET_OPT,
    cfg.HostAddressOpt("bind_host", default="127.0.0.1",
                       help="Address the webhook receiver listens on."),
    cfg.PortOpt("port", default=9779,
                help="Port the webhook receiver listens on."),
    cfg.StrOpt("public_url", default="",
               help="Base URL by which Aodh (or any alarm system) reaches "
                    "this receiver, written into scale links; default "
                    "http://<bind_host>:<port>."),
    cfg.IntOpt("max_skew", default=300, min=1,
               help="Seconds a signed request's timestamp may differ from "
                    "the receiver's clock; bounds replay of a captured "
                    "request."),
    cfg.IntOpt("max_body", default=1024 * 1024, min=1024,
               help="Largest accepted request body, in bytes."),
    cfg.FloatOpt("refused_log_interval", default=60.0, min=0,
                 help="Seconds between WARNING lines about requests "
                      "refused before authentication (401, 413, 415); the "
                      "ones in between are counted, not logged, and never "
                      "written to the ledger."),
    cfg.IntOpt("backlog", default=1024, min=16,
               help="Listen backlog: connections the kernel queues while "
                    "every worker is busy (capped by net.core.somaxconn)."),
    cfg.IntOpt("workers", default=16, min=1,
               help="Threads serving requests; more concurrent requests "
                    "wait in the backlog instead of each getting a "
                    "thread."),
    cfg.FloatOpt("request_timeout", default=30.0, min=1,
                 help="Seconds a connection may stay silent (a client that "
                      "announces more body than it sends) before it is "
                      "closed."),
    cfg.IntOpt("max_header_bytes", default=16 * 1024, min=1024,
               help="Largest accepted request line and headers, in "
                    "bytes."),
    cfg.FloatOpt("shutdown_timeout", default=5.0, min=0,
                 help="Seconds in-flight requests get to finish on stop."),
]


ZAQAR_OPTS = [
    cfg.ListOpt("queues", default=[],
                help="Zaqar queues that Aodh alarm actions "
                     "(zaqar://?queue_name=Q&project_id=P) post heal "
                     "alarms to; `serve` consumes them. Every alarm in "
                     "state `alarm` on such a queue heals the unit owning "
                     "the server in its event's instance_id trait. Empty: "
                     "no consumer."),
    cfg.StrOpt("project_id", default="",
               help="Project of the queues (X-Project-ID). Empty: the "
                    "project of our Keystone session."),
    cfg.StrOpt("endpoint", default="",
               help="Zaqar URL (http://HOST:8888). Empty: from the "
                    "Keystone catalog (service type messaging). Set, it is "
                    "called without Keystone tokens (noauth Zaqar)."),
    cfg.StrOpt("client_id", default="",
               help="Client-ID (a UUID) sent to Zaqar. Empty: derived "
                    "from [selfheal] replica_id, stable across restarts."),
    cfg.IntOpt("claim_ttl", default=300, min=60, max=43200,
               help="Seconds a claim holds its messages; a message neither "
                    "deleted nor released in this time goes back to the "
                    "queue by itself."),
    cfg.IntOpt("claim_grace", default=60, min=60, max=43200,
               help="Seconds Zaqar extends a claimed message's life by, so "
                    "it does not expire while claimed."),
    cfg.IntOpt("batch", default=10, min=1, max=20,
               help="Messages claimed per call (Zaqar's default limit is "
                    "20)."),
    cfg.FloatOpt("poll_interval", default=5.0, min=0.1,
                 help="Seconds between claims while a queue is empty. A "
                      "full batch is followed by the next claim at once."),
    cfg.FloatOpt("max_backoff", default=60.0, min=1,
                 help="Longest wait after failures (Zaqar unreachable, "
                      "ledger down); the wait doubles from poll_interval."),
    cfg.FloatOpt("timeout", default=10.0, min=0.1,
                 help="HTTP timeout of one Zaqar call."),
    cfg.FloatOpt("resolver_ttl", default=60.0, min=1,
                 help="Seconds Heat's units (which server is in which "
                      "unit) are kept before they are read again."),
    cfg.FloatOpt("resolver_min_interval", default=10.0, min=0,
                 help="Least seconds between two reads of Heat, however "
                      "many messages name servers no unit has: a message "
                      "is rejected UNKNOWN_UNIT only after a read newer "
                      "than it, and waits in the queue until then."),
    cfg.BoolOpt("all_projects", default=True,
                help="Read the stacks of every project (needs an admin "
                     "service user); false: only our project's."),
    cfg.FloatOpt("failing_log_interval", default=60.0, min=0,
                 help="Seconds between WARNING lines while Zaqar cannot be "
                      "reached; the failures in between are counted."),
]


def public_url(conf: cfg.ConfigOpts) -> str:
    group = conf[WEBHOOK_GROUP]
    return group.public_url or f"http://{group.bind_host}:{group.port}"


def list_opts() -> list[tuple[str, Sequence[cfg.Opt]]]:
    return [(INGEST_GROUP, OPTS), (WEBHOOK_GROUP, WEBHOOK_OPTS),
            (ZAQAR_GROUP, ZAQAR_OPTS)]


def register(conf: cfg.ConfigOpts) -> cfg.ConfigOpts:
    for group, opts in list_opts():
        conf.register_opts(opts, group=group)
    return conf


def load(config_files: Iterable[str] = ()) -> cfg.ConfigOpts:
    """A private ConfigOpts with the ingest options, read from the files.

    Used where the selfheal options must be read inside another program's
    process (the Vitrage notifier), whose global CONF is not ours.
    """
    conf = register(cfg.ConfigOpts())
    conf(args=[], project="vitrage-selfheal",
         default_config_files=list(config_files), default_config_dirs=[])
    return conf
