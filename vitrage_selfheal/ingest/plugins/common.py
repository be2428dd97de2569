"""What our notifier plugins share. Not a plugin: Vitrage imports only the
modules named in `[DEFAULT] notifiers`."""

from __future__ import annotations

from typing import Any

from oslo_config import cfg
from vitrage.notifier.plugins.base import NotifierBase

from vitrage_selfheal.ingest.parse import duplicates_deduced_event


def notifier_opt(module: str, class_name: str, what: str) -> cfg.StrOpt:
    """The `notifier` option through which Vitrage finds a plugin's class."""
    return cfg.StrOpt("notifier", default=f"{module}.{class_name}",
                      required=True, help=f"{what} class path")


class GraphEventNotifier(NotifierBase):
    """A notifier on Vitrage's graph topic that handles each deduced alarm
    change once, although Vitrage also emits a `vitrage.alarm.*` twin."""

    NAME = ""

    # Vitrage declares it static but calls it on the instance.
    def get_notifier_name(self) -> str:
        return self.NAME

    def process_event(self, data: Any, event_type: str) -> None:
        if duplicates_deduced_event(event_type, data):
            self.skipped_twin()
        else:
            self.handle(data, event_type)

    def skipped_twin(self) -> None:
        pass

    def handle(self, data: Any, event_type: str) -> None:
        raise NotImplementedError
