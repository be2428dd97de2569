"""Vitrage notifier plugin `selfheal`: heal requests from graph events,
inside Vitrage's notifier process.

vitrage.conf::

    [DEFAULT]
    notifiers = selfheal
    notifiers_path = vitrage.notifier.plugins,vitrage_selfheal.ingest.plugins

    [selfheal]
    config_file = /etc/vitrage-selfheal/vitrage-selfheal.conf
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from oslo_config import cfg

from vitrage_selfheal.ingest import IngestStats, RequestSink, ingest
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ingest.parse import patterns
from vitrage_selfheal.ingest.plugins.common import (
    GraphEventNotifier,
    notifier_opt,
)

LOG = logging.getLogger(__name__)

NAME = "selfheal"
SOURCE = "vitrage.notifier"

OPTS = [
    notifier_opt(__name__, "SelfHealNotifier", "selfheal notifier"),
    cfg.StrOpt("config_file", default="",
               help="The vitrage-selfheal configuration file (alarm "
                    "patterns, ledger, Mistral). Empty: built-in defaults."),
]


def config_files() -> list[str]:
    """The selfheal config file named in Vitrage's CONF, if any."""
    try:
        path = cfg.CONF[NAME].config_file
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        # Constructed outside Vitrage's plugin loader (tests, tools).
        return []
    return [path] if path else []


class SelfHealNotifier(GraphEventNotifier):
    """Parses each graph event and hands it to the selfheal app."""

    NAME = NAME

    def __init__(self, sink: Optional[RequestSink] = None,
                 conf: Optional[Any] = None) -> None:
        super().__init__()
        files = config_files()
        if sink is None:
            # Imported here: the app pulls in the ledger and the Mistral
            # client, and an ImportError at module level would be hidden
            # by Vitrage's loader (see plugins/__init__).
            from vitrage_selfheal import app
            sink = app.shared_sink(files)
        self._sink = sink
        self._conf = conf if conf is not None else ingest_opts.load(files)
        patterns(self._conf)  # a bad regex stops Vitrage's start, loudly
        self.stats = IngestStats()

    @property
    def conf(self) -> Any:
        """The selfheal ingest options this notifier parses with."""
        return self._conf

    def skipped_twin(self) -> None:
        self.stats.count("duplicate")

    def handle(self, data: Any, event_type: str) -> None:
        try:
            ingest(event_type, data, SOURCE, self._conf, self._sink,
                   self.stats)
        except Exception:
            # ingest() does not raise; this guards Vitrage's listener
            # thread against a bug here all the same.
            LOG.exception("selfheal notifier failed on %s: %r", event_type,
                          data)
