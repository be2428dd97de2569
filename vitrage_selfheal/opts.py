"""Every oslo.config option of the plugin, registered in one place.

`list_opts` feeds `oslo-config-generator --namespace vitrage_selfheal`.
"""

from __future__ import annotations

import os
import socket

from oslo_config import cfg

from vitrage_selfheal.decide.policy import Policy, Threshold
from vitrage_selfheal.names import HEAL_WORKFLOW

SELFHEAL_OPTS = [
    cfg.StrOpt("state_path", default="/var/lib/vitrage-selfheal",
               help="Directory for the default SQLite ledger and file "
                    "locks."),
    # secret: the URL carries the database password; oslo masks it in
    # log_opt_values.
    cfg.StrOpt("ledger_url", default="sqlite:///$state_path/ledger.db",
               secret=True,
               help="SQLAlchemy URL of the ledger (sqlite:///FILE, "
                    "postgresql+psycopg2://..., mysql+pymysql://...)."),
    cfg.StrOpt("coordination_url", default="file://$state_path/locks",
               secret=True,
               help="tooz URL for locks shared by replicas (file://DIR on "
                    "one host; etcd3+http://, redis:// across hosts)."),
    cfg.StrOpt("replica_id",
               default=f"{socket.gethostname()}-{os.getpid()}",
               sample_default="<hostname>-<pid>",
               help="Name of this replica in the ledger and in tooz."),
    cfg.FloatOpt("tick_interval", default=0.5, min=0.05,
                 help="Seconds between passes that form batches and "
                      "follow executions."),
    cfg.FloatOpt("healthz_max_tick_age", default=30.0, min=1,
                 help="GET /healthz answers 503 when the last tick that "
                      "ended without an error is older than this many "
                      "seconds."),
]

POLICY_OPTS = [
    cfg.FloatOpt("cooldown", default=300.0, min=0,
                 help="Seconds after a successful heal during which the "
                      "unit is not healed again (COOLDOWN)."),
    cfg.IntOpt("flap_max_heals", default=3, min=1,
               help="Heals of one unit within flap_window before it is "
                    "held as FLAPPING."),
    cfg.FloatOpt("flap_window", default=3600.0, min=1),
    cfg.StrOpt("max_unhealthy", default="50%",
               help="Unhealthy units a group tolerates before the storm "
                    "guard holds it: a percentage of the group or a "
                    "count."),
    cfg.IntOpt("max_unhealthy_unknown_size", default=2, min=0,
               help="Tolerated unhealthy units when max_unhealthy is a "
                    "percentage and the group size is unknown."),
    cfg.FloatOpt("coalesce_window", default=2.0, min=0,
                 help="Seconds units of one root stack are gathered into "
                      "one heal execution."),
    cfg.IntOpt("max_dispatches_per_minute", default=30, min=1,
               help="Global rate limit on heal executions."),
    cfg.IntOpt("max_attempts", default=3, min=1,
               help="Executions per batch before the stack's circuit "
                    "breaker opens."),
    cfg.FloatOpt("retry_backoff", default=30.0, min=0,
                 help="Seconds before the first retry; doubles each "
                      "attempt."),
    cfg.FloatOpt("execution_timeout", default=1800.0, min=1,
                 help="A heal execution running longer is failed as "
                      "EXECUTION_STUCK."),
]

MISTRAL_OPTS = [
    cfg.StrOpt("endpoint", default="",
               help="Mistral v2 URL (http://HOST:8989/v2). Empty: from the "
                    "Keystone catalog (service type workflowv2)."),
    cfg.StrOpt("workflow", default=HEAL_WORKFLOW,
               help="Heal workflow name (vitrage-selfheal workflows "
                    "install)."),
    cfg.FloatOpt("timeout", default=10.0, min=0.1,
                 help="HTTP timeout of one Mistral call."),
]

OPENSTACK_OPTS = [
    cfg.StrOpt("cloud", default="",
               help="clouds.yaml entry for Keystone, Heat and Mistral. "
                    "Empty: OS_* environment variables."),
    cfg.StrOpt("heat_endpoint", default="",
               help="Heat URL override (noauth deployments and tests)."),
]


ENGINE_OPTS = [
    cfg.ListOpt("templates", default=[],
                help="Template files or folders for the embedded engine. "
                     "Empty: the templates shipped with the package."),
    cfg.ListOpt("datasource_types",
                default=["nova.host", "nova.instance", "nova.zone",
                         "heat.stack", "heat.unit", "static", "aodh",
                         "doctor"],
                help="Vitrage datasources the embedded engine runs."),
    cfg.StrOpt("transport_url", default="fake:/", secret=True,
               help="Bus the services publish notifications on "
                    "(rabbit://...); fake:/ for none."),
    cfg.ListOpt("notification_topics", default=["vitrage_notifications"]),
    cfg.ListOpt("notification_exchanges",
                default=["nova", "heat", "aodh", "openstack"]),
    cfg.FloatOpt("snapshot_interval", default=60.0, min=5,
                 help="Seconds between full datasource snapshots (Nova "
                      "ERROR states arrive this way)."),
    cfg.StrOpt("static_dir", default="",
               help="Vitrage static datasource folder (switches)."),
    cfg.StrOpt("vitrage_overrides", default="",
               help="An ini file merged into the generated vitrage.conf, "
                    "e.g. [service_credentials] for the Nova drivers."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    from vitrage_selfheal.ingest import opts as ingest_opts

    return [("selfheal", SELFHEAL_OPTS), ("selfheal_policy", POLICY_OPTS),
            ("mistral", MISTRAL_OPTS), ("openstack", OPENSTACK_OPTS),
            ("engine", ENGINE_OPTS),
            *ingest_opts.list_opts()]


def register(conf: cfg.ConfigOpts) -> cfg.ConfigOpts:
    for group, opts in list_opts():
        conf.register_opts(opts, group=group)
    return conf


def policy_from(conf: cfg.ConfigOpts) -> Policy:
    """Policy from [selfheal_policy]; a bad value names the option."""
    p = conf.selfheal_policy
    try:
        threshold = Threshold.parse(p.max_unhealthy)
    except ValueError as exc:
        raise cfg.Error(f"[selfheal_policy] {exc}") from None
    return Policy(cooldown=p.cooldown, flap_max_heals=p.flap_max_heals,
                  flap_window=p.flap_window, max_unhealthy=threshold,
                  max_unhealthy_unknown_size=p.max_unhealthy_unknown_size,
                  coalesce_window=p.coalesce_window,
                  max_dispatches_per_minute=p.max_dispatches_per_minute,
                  max_attempts=p.max_attempts,
                  retry_backoff=p.retry_backoff,
                  execution_timeout=p.execution_timeout)
