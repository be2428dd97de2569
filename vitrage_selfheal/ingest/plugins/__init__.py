"""Vitrage notifier plugins; add this package to Vitrage's notifiers_path.

Vitrage imports `<path>.<name>` for each name in `[DEFAULT] notifiers`,
registers the module's OPTS in the group `<name>` and instantiates the
class named by its `notifier` option without arguments. Vitrage swallows
an ImportError from that import (it tries the next path), so these modules
import nothing that may be missing; the failure would surface only as
"no such option notifier".
"""

from oslo_config import cfg


def notifier_opt(module: str, class_name: str, what: str) -> cfg.StrOpt:
    """The `notifier` option through which Vitrage finds a plugin's class."""
    return cfg.StrOpt("notifier", default=f"{module}.{class_name}",
                      required=True, help=f"{what} class path")
