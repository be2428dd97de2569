"""Vitrage datasource `heat.unit`: the members of Heat scaling groups.

One RESOURCE vertex per member ("unit") of an OS::Heat::AutoScalingGroup
or OS::Heat::ResourceGroup, linked `comprised` from its root heat.stack
and `contains` to the nova.instance vertices inside it, so that Vitrage
templates can raise deduced alarms on the unit that must be replaced.

Vitrage registers OPTS in the group `[heat.unit]` of vitrage.conf.
"""

from oslo_config import cfg
from vitrage.common.constants import DatasourceOpts as DSOpts
from vitrage.common.constants import UpdateMethod

# Re-exported: the driver and the transformer import it from here.
from vitrage_selfheal.names import HEAT_UNIT_DATASOURCE as HEAT_UNIT_DATASOURCE

DEFAULT_GROUP_TYPES = ["OS::Heat::AutoScalingGroup", "OS::Heat::ResourceGroup"]

OPTS = [
    cfg.StrOpt(DSOpts.TRANSFORMER,
               default="vitrage_selfheal.datasources.heat.unit.transformer."
                       "HeatUnitTransformer",
               help="Heat unit transformer class path",
               required=True),
    cfg.StrOpt(DSOpts.DRIVER,
               default="vitrage_selfheal.datasources.heat.unit.driver."
                       "HeatUnitDriver",
               help="Heat unit driver class path",
               required=True),
    cfg.StrOpt(DSOpts.UPDATE_METHOD,
               default=UpdateMethod.PUSH,
               help="push: re-read a root stack on each orchestration.stack "
                    "notification, plus the periodic snapshot "
                    "([datasources] snapshots_interval). pull: re-read "
                    "every changes_interval seconds. none: snapshots "
                    "only.",
               required=True),
    cfg.IntOpt(DSOpts.CHANGES_INTERVAL,
               default=60,
               min=10,
               help="Seconds between re-reads when update_method is pull."),
    cfg.ListOpt("group_types",
                default=DEFAULT_GROUP_TYPES,
                help="Heat resource types whose members are units."),
    cfg.IntOpt("nested_depth",
               default=5,
               min=0,
               help="How deep nested stacks are walked to find groups and "
                    "the servers inside a unit."),
    cfg.BoolOpt("all_projects",
                default=True,
                help="List the stacks of every project (global_tenant; "
                     "needs an admin service user). False: only the "
                     "stacks of the service user's project."),
    cfg.StrOpt("cloud",
               default="",
               help="clouds.yaml entry used to read Heat. Empty: "
                    "Vitrage's [service_credentials]."),
    cfg.StrOpt("heat_endpoint",
               default="",
               help="Heat URL override (noauth deployments and tests)."),
    cfg.StrOpt("ledger_url",
               default="",
               secret=True,
               help="SQLAlchemy URL of the vitrage-selfheal ledger; fills "
                    "the heal_state property of unit vertices. Empty: "
                    "heal_state stays empty."),
    cfg.IntOpt("healed_for",
               default=300,
               min=0,
               help="Seconds a replaced unit shows heal_state HEALED "
                    "(set it to [selfheal_policy] cooldown); the next "
                    "refresh after that shows it empty again."),
]
