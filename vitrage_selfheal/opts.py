"""Every oslo.config option of the plugin, registered in one place.

`list_opts` feeds `oslo-config-generator --namespace vitrage_selfheal`.
"""

from __future__ import annotations

import math
import socket

from oslo_config import cfg

from vitrage_selfheal import limits, workflows
from vitrage_selfheal.decide.policy import Policy, Threshold
from vitrage_selfheal.decide.steps import format_ladder, parse_ladder
from vitrage_selfheal.decide.windows import parse_windows
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
    # Stable across restarts: a restarted replica takes its own leases back
    # at once instead of waiting them out.
    cfg.StrOpt("replica_id", default=socket.gethostname(),
               sample_default="<hostname>",
               help="Name of this replica in the ledger and in tooz. Give "
                    "each replica on one host its own name."),
    cfg.StrOpt("spool_path", default="$state_path/spool.jsonl",
               help="File where the in-process notifier keeps requests "
                    "the ledger could not take (fsynced), replayed in "
                    "order once it answers. The webhook never spools: it "
                    "answers 503 and the sender retries."),
    cfg.IntOpt("spool_max_bytes", default=64 * 1024 * 1024, min=4096,
               help="Size at which the spool refuses more requests "
                    "(logged at ERROR and counted, never dropped "
                    "silently)."),
    cfg.StrOpt("inbox_path", default="$state_path/inbox.jsonl",
               help="Journal of the inbox between Vitrage's notifier "
                    "thread and the ledger: each request is appended here "
                    "before the notifier returns, and removed once stored "
                    "(recovered at start after a crash)."),
    cfg.IntOpt("inbox_max_items", default=100_000, min=0,
               help="Requests the inbox queues before the notifier thread "
                    "stores them itself (back-pressure, never a drop). 0: "
                    "no inbox, every request stored in the notifier's "
                    "thread before it returns."),
    cfg.FloatOpt("inbox_linger", default=0.05, min=0.0, max=5.0,
                 help="Seconds the inbox lets a batch gather before it "
                      "stores it in one transaction per stack."),
    cfg.FloatOpt("tick_interval", default=0.5, min=0.05,
                 help="Seconds between passes that form batches and "
                      "follow executions."),
    cfg.IntOpt("workers", default=8, min=0,
               help="Threads that form and drive stack operations side "
                    "by side, so that a slow Mistral or Heat call delays "
                    "only its own stack. 0: one thread, stacks in turn."),
    cfg.FloatOpt("healthz_max_tick_age", default=30.0, min=1,
                 help="GET /healthz answers 503 when the last tick that "
                      "ended without an error is older than this many "
                      "seconds."),
]

_POLICY = Policy()

POLICY_OPTS = [
    cfg.FloatOpt("cooldown", default=_POLICY.cooldown, min=0,
                 help="Seconds after a successful heal during which the "
                      "unit is not healed again (COOLDOWN)."),
    cfg.IntOpt("flap_max_heals", default=_POLICY.flap_max_heals, min=1,
               help="Heals of one unit within flap_window before it is "
                    "held as FLAPPING."),
    cfg.FloatOpt("flap_window", default=_POLICY.flap_window, min=1),
    cfg.StrOpt("max_unhealthy", default=str(_POLICY.max_unhealthy),
               help="Unhealthy units a group tolerates before the storm "
                    "guard holds it: a percentage of the group (rounded "
                    "down) or a count."),
    cfg.IntOpt("min_heal_allowed", default=_POLICY.min_heal_allowed, min=0,
               help="The storm guard always tolerates this many unhealthy "
                    "units, whatever the group's size, so small groups "
                    "heal (Cluster Autoscaler's ok-total-unready-count)."),
    cfg.IntOpt("max_unhealthy_unknown_size",
               default=_POLICY.max_unhealthy_unknown_size, min=0,
               help="Tolerated unhealthy units (and units in flight) when "
                    "a percentage needs the group size and it is "
                    "unknown."),
    cfg.StrOpt("max_in_flight", default=str(_POLICY.max_in_flight),
               help="Units of one group replaced by one stack operation: "
                    "a percentage of the group (rounded up) or a count; "
                    "at least 1. The others wait (MAX_IN_FLIGHT) for the "
                    "next operation."),
    cfg.FloatOpt("root_cause_settle", default=_POLICY.root_cause_settle,
                 min=0,
                 help="Seconds a root cause must stay clear before the "
                      "units it held are reconsidered; units that recover "
                      "meanwhile are released without a heal. At least "
                      "one Aodh evaluation period."),
    cfg.FloatOpt("coalesce_window", default=_POLICY.coalesce_window, min=0,
                 help="Seconds without a new unhealthy unit of a root "
                      "stack before its queued units become one heal "
                      "execution (Alertmanager's group_wait, restarted by "
                      "each new unit: a storm yields one execution per "
                      "stack)."),
    cfg.FloatOpt("coalesce_max", default=_POLICY.coalesce_max, min=0,
                 help="Seconds after a stack's first queued unit at which "
                      "its execution forms even if units keep arriving."),
    cfg.IntOpt("max_dispatches_per_minute",
               default=_POLICY.max_dispatches_per_minute, min=1,
               help="Global rate limit on execution starts (retries "
                    "included). One execution heals a whole stack: 60 "
                    "lets a rack loss across 50 clusters heal in one "
                    "go."),
    cfg.IntOpt("max_attempts", default=_POLICY.max_attempts, min=1,
               help="Attempts (failed starts and failed executions) per "
                    "operation before the stack's circuit breaker "
                    "opens."),
    cfg.FloatOpt("retry_backoff", default=_POLICY.retry_backoff, min=0,
                 help="Seconds before the first retry; doubles each "
                      "attempt."),
    cfg.FloatOpt("unit_grace", default=_POLICY.unit_grace, min=0,
                 help="Seconds after a unit was created by a scale-out or "
                      "replaced by a heal during which it is not healed "
                      "(UNIT_GRACE): it is still booting."),
    cfg.FloatOpt("scale_cooldown", default=_POLICY.scale_cooldown, min=0,
                 help="Seconds after a group scaled before an alarm may "
                      "scale it again (SCALE_COOLDOWN); operator "
                      "requests are not held."),
    cfg.FloatOpt("startup_timeout", default=_POLICY.startup_timeout, min=0,
                 help="A unit unhealthy since it came up is healed this "
                      "long after (at least unit_grace), reason "
                      "STARTUP_TIMEOUT, and held, not replaced again, if "
                      "the replacement never becomes healthy either. 0: "
                      "at the end of unit_grace."),
    cfg.BoolOpt("shadow", default=_POLICY.shadow,
                help="Shadow mode for every stack: decide and record "
                     "everything, start nothing (SHADOW: 'would have "
                     "started'). Per stack: vitrage-selfheal shadow on "
                     "--stack S."),
    cfg.BoolOpt("opt_in", default=_POLICY.opt_in,
                help="Heal only stacks tagged selfheal:enabled; others are "
                     "EXCLUDED. A stack tagged selfheal:exclude is never "
                     "healed either way."),
    cfg.MultiStrOpt("maintenance_windows", default=[],
                    help="A time (UTC) during which stack operations wait "
                         "(MAINTENANCE_WINDOW), '<days> HH:MM-HH:MM': "
                         "days mon..sun, a list (sat,sun) or a range "
                         "(mon-fri) or *; an end before the start runs "
                         "past midnight, e.g. 'sat 22:00-02:00'. Repeat "
                         "the option for more windows."),
    cfg.StrOpt("remediation_ladder",
               default=format_ladder(_POLICY.remediation_ladder),
               help="The escalation ladder: steps tried in order, each "
                    "with its timeout in seconds, e.g. 'reboot:300>"
                    "rebuild:600>replace'. A step other than replace is "
                    "judged when its timeout ends (VERIFYING): healthy is "
                    "REMEDIATED, unhealthy or failed goes on to the next "
                    "step (ESCALATED). Must end with replace. Per stack: "
                    "the tag selfheal:ladder=<ladder>."),
    cfg.IntOpt("max_remediations_per_unit",
               default=_POLICY.max_remediations_per_unit, min=0,
               help="Remediation steps (reboots, rebuilds, replacements) "
                    "of one unit within remediation_window before it is "
                    "held (REMEDIATION_BUDGET). 0: no budget."),
    cfg.FloatOpt("remediation_window", default=_POLICY.remediation_window,
                 min=1, help="Seconds max_remediations_per_unit counts."),
    cfg.FloatOpt("safe_time_to_assume_dead",
                 default=_POLICY.safe_time_to_assume_dead, min=0,
                 help="Stacks tagged selfheal:fence: seconds between the "
                      "old servers being stopped (fenced) and their "
                      "replacement being created, so a stateful member "
                      "never runs twice."),
    cfg.StrOpt("pre_replace_hook", default=_POLICY.pre_replace_hook,
               help="A Mistral workflow started before any unit is marked "
                    "for replacement, with {root_stack_id, units, "
                    "reason}, so the application can drain (AWS lifecycle "
                    "hooks). Its output 'result' is CONTINUE or ABANDON "
                    "(HOOK_ABANDONED: the units are held for a cooldown, "
                    "no breaker). Empty: no hook."),
    cfg.FloatOpt("pre_replace_timeout", default=_POLICY.pre_replace_timeout,
                 min=1, help="Seconds the pre-replace hook may take; then "
                             "pre_replace_default applies."),
    cfg.StrOpt("pre_replace_default", default=_POLICY.pre_replace_default,
               choices=["CONTINUE", "ABANDON"],
               help="The hook's result when it times out, fails or "
                    "answers anything else (AWS DefaultResult)."),
    cfg.FloatOpt("execution_timeout", default=0, min=0,
                 help="An execution running longer is cancelled in "
                      "Mistral (EXECUTION_STUCK) and retried once Mistral "
                      "confirms it ended. 0: derived from the workflow's "
                      "own bounded waits ([mistral] poll_delay x max_polls "
                      "+ 3 x conflict_delay x conflict_retries) x 1.25. A "
                      "value below those waits is a configuration error."),
    cfg.FloatOpt("cancel_timeout", default=_POLICY.cancel_timeout, min=1,
                 help="Seconds Mistral may take to confirm a cancel before "
                      "the stack's breaker opens; no new attempt starts "
                      "meanwhile."),
]

_WF = workflows.input_defaults()

MISTRAL_OPTS = [
    cfg.StrOpt("endpoint", default="",
               help="Mistral v2 URL (http://HOST:8989/v2). Empty: from the "
                    "Keystone catalog (service type workflowv2)."),
    cfg.StrOpt("workflow", default=HEAL_WORKFLOW,
               help="Heal workflow name (vitrage-selfheal workflows "
                    "install)."),
    cfg.FloatOpt("timeout", default=10.0, min=0.1,
                 help="HTTP timeout of one Mistral call."),
    cfg.FloatOpt("follow_interval", default=1.0, min=0,
                 help="Seconds between reads of a running execution; "
                      "after a failed read the wait doubles, up to 60 s."),
    # The heal workflow's bounded waits, passed as its input; defaults are
    # the workflow's own.
    cfg.IntOpt("poll_delay", default=_WF["poll_delay"], min=1,
               help="Seconds between polls of the stack update."),
    cfg.IntOpt("max_polls", default=_WF["max_polls"], min=1,
               help="Polls of the stack update before the heal fails."),
    cfg.IntOpt("conflict_delay", default=_WF["conflict_delay"], min=1,
               help="Seconds between retries while Heat answers 409 (a "
                    "running update or scale holds the stack)."),
    cfg.IntOpt("conflict_retries", default=_WF["conflict_retries"], min=0,
               help="Retries while Heat answers 409, per step."),
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
    from vitrage_selfheal.metrics import opts as metrics_opts

    return [("selfheal", SELFHEAL_OPTS), ("selfheal_policy", POLICY_OPTS),
            ("mistral", MISTRAL_OPTS), ("openstack", OPENSTACK_OPTS),
            ("engine", ENGINE_OPTS),
            *ingest_opts.list_opts(), *metrics_opts.list_opts()]


def register(conf: cfg.ConfigOpts) -> cfg.ConfigOpts:
    for group, opts in list_opts():
        conf.register_opts(opts, group=group)
    return conf


def check_values(conf: cfg.ConfigOpts) -> None:
    """Read every option once: a bad value fails at start, naming its
    option, not at first use in a thread nobody watches. Also refused:
    numbers oslo's bounds let through (nan compares false with any bound,
    inf passes a minimum) and a replica id the ledger cannot store, which
    would fail every row this replica writes."""
    for group, group_opts in list_opts():
        for opt in group_opts:
            value = conf[group][opt.dest]
            if isinstance(value, float) and not math.isfinite(value):
                raise cfg.Error(f"[{group}] {opt.name} must be a finite "
                                f"number, got {value}")
    problem = limits.check_text("replica_id", conf.selfheal.replica_id,
                                limits.REPLICA)
    if problem:
        raise cfg.Error(f"[selfheal] {problem}")


def workflow_input(conf: cfg.ConfigOpts) -> dict[str, int]:
    """The heal workflow's tunables from [mistral]."""
    return {name: getattr(conf.mistral, name)
            for name in workflows.HEAL_TUNABLES}


def execution_timeout(conf: cfg.ConfigOpts) -> float:
    """[selfheal_policy] execution_timeout, derived or checked against the
    workflow's own bounded waits: a shorter one would cancel healthy
    executions."""
    p = conf.selfheal_policy
    # Fencing and the hook wait before the heal's own waits begin.
    before = workflows.FENCE_STOP_WAIT + p.safe_time_to_assume_dead + (
        p.pre_replace_timeout if p.pre_replace_hook else 0.0)
    waits = workflows.heal_worst_case(**workflow_input(conf))
    configured = p.execution_timeout
    if not configured:
        return waits * workflows.EXECUTION_TIMEOUT_FACTOR + before
    waits += before
    if configured < waits:
        raise cfg.Error(
            f"[selfheal_policy] execution_timeout {configured:g}s is "
            f"shorter than the heal workflow's own bounded waits "
            f"({waits:g}s from [mistral] poll_delay x max_polls + 3 x "
            f"conflict_delay x conflict_retries, fencing's 120 s + "
            f"safe_time_to_assume_dead and the pre-replace hook's "
            f"timeout): raise it, set it to 0 to derive it, or lower "
            f"those waits")
    return configured


def policy_from(conf: cfg.ConfigOpts) -> Policy:
    """Policy from [selfheal_policy]; a bad value names the option."""
    p = conf.selfheal_policy
    try:
        threshold = Threshold.parse(p.max_unhealthy)
        in_flight = Threshold.parse(p.max_in_flight, "max_in_flight")
        windows = parse_windows(p.maintenance_windows)
        ladder = parse_ladder(p.remediation_ladder)
    except ValueError as exc:
        raise cfg.Error(f"[selfheal_policy] {exc}") from None
    return Policy(cooldown=p.cooldown, flap_max_heals=p.flap_max_heals,
                  flap_window=p.flap_window, max_unhealthy=threshold,
                  min_heal_allowed=p.min_heal_allowed,
                  max_unhealthy_unknown_size=p.max_unhealthy_unknown_size,
                  max_in_flight=in_flight,
                  root_cause_settle=p.root_cause_settle,
                  coalesce_window=p.coalesce_window,
                  coalesce_max=p.coalesce_max,
                  max_dispatches_per_minute=p.max_dispatches_per_minute,
                  max_attempts=p.max_attempts,
                  retry_backoff=p.retry_backoff,
                  execution_timeout=execution_timeout(conf),
                  cancel_timeout=p.cancel_timeout,
                  unit_grace=p.unit_grace,
                  scale_cooldown=p.scale_cooldown,
                  startup_timeout=p.startup_timeout,
                  shadow=p.shadow, opt_in=p.opt_in,
                  maintenance_windows=windows, remediation_ladder=ladder,
                  max_remediations_per_unit=p.max_remediations_per_unit,
                  remediation_window=p.remediation_window,
                  safe_time_to_assume_dead=p.safe_time_to_assume_dead,
                  pre_replace_hook=p.pre_replace_hook,
                  pre_replace_timeout=p.pre_replace_timeout,
                  pre_replace_default=p.pre_replace_default)
