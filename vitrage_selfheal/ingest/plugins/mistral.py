"""Compatibility with templates that still use `execute_mistral`.

Vitrage sends execute_mistral actions only to the notifier named
`mistral`, on its private topic. Put this package first in
`notifiers_path` and list `mistral` in `notifiers`: actions for our heal
workflows then go through the decision layer (dedup, coalescing, storm
guard, no raw `get_attr(` text), and every other workflow is started in
Mistral exactly as Vitrage's stock notifier does.

    [DEFAULT]
    notifiers = selfheal,mistral
    notifiers_path = vitrage_selfheal.ingest.plugins,vitrage.notifier.plugins
"""

from __future__ import annotations

from typing import Any, Optional

from vitrage.notifier.plugins.mistral.mistral_notifier import MistralNotifier

from vitrage_selfheal.ingest import RequestSink
from vitrage_selfheal.ingest.parse import EXECUTE_EXTERNAL_ACTION, patterns
from vitrage_selfheal.ingest.plugins.common import notifier_opt
from vitrage_selfheal.ingest.plugins.selfheal import SelfHealNotifier

NAME = "mistral"

OPTS = [
    notifier_opt(__name__, "SelfHealMistralNotifier",
                 "mistral notifier (selfheal-aware)"),
]


class SelfHealMistralNotifier(MistralNotifier):
    def __init__(self, sink: Optional[RequestSink] = None,
                 conf: Optional[Any] = None) -> None:
        super().__init__()
        self.selfheal = SelfHealNotifier(sink=sink, conf=conf)

    def process_event(self, data: Any, event_type: str) -> None:
        if event_type == EXECUTE_EXTERNAL_ACTION and isinstance(data, dict) \
                and data.get("workflow") in self._ours():
            self.selfheal.process_event(data, event_type)
            return
        super().process_event(data, event_type)

    def _ours(self) -> frozenset[str]:
        return patterns(self.selfheal.conf).workflows
