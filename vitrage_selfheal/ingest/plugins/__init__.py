"""Vitrage notifier plugins; add this package to Vitrage's notifiers_path.

Vitrage imports `<path>.<name>` for each name in `[DEFAULT] notifiers`,
registers the module's OPTS in the group `<name>` and instantiates the
class named by its `notifier` option without arguments. Vitrage swallows
an ImportError from that import (it tries the next path), so these modules
import nothing that may be missing; the failure would surface only as
"no such option notifier".
"""
