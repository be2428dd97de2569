"""The vitrage.conf of the embedded engine, written and parsed for real.

Vitrage reads everything from its global oslo.config CONF, so the embedded
engine writes an ordinary vitrage.conf (kept for the operator to read) and
parses it the way vitrage-graph does. One engine per process.
"""

from __future__ import annotations

import configparser
import dataclasses
import logging
import pathlib
from collections.abc import Sequence
from typing import Optional

from vitrage_selfheal.names import HEAT_UNIT_DATASOURCE

LOG = logging.getLogger(__name__)

DEFAULT_TYPES = ("nova.host", "nova.instance", "nova.zone", "heat.stack",
                 HEAT_UNIT_DATASOURCE, "static", "aodh", "doctor")


def values_dir() -> str:
    """Vitrage's value tables plus ours, shipped as package data."""
    from vitrage_selfheal.datasources import values
    return values.values_dir()


@dataclasses.dataclass
class EngineSettings:
    workdir: pathlib.Path
    template_paths: Sequence[str] = ()
    datasource_types: Sequence[str] = DEFAULT_TYPES
    static_dir: Optional[str] = None
    database_url: str = "sqlite://"
    transport_url: str = "fake:/"
    # Extra `section -> {key: value}` for operators who need more.
    extra: dict = dataclasses.field(default_factory=dict)

    def render(self) -> configparser.ConfigParser:
        conf = configparser.ConfigParser(interpolation=None)
        conf["DEFAULT"] = {
            "transport_url": self.transport_url,
            # Our notifier is wired in-process by the engine, not by name.
            "notifiers": "",
            "use_nova_versioned_notifications": "false",
        }
        conf["database"] = {"connection": self.database_url}
        conf["datasources"] = {
            "types": ",".join(self.datasource_types),
            "path": "vitrage.datasources,vitrage_selfheal.datasources",
            # The engine pulls and pushes itself; no periodic snapshots.
            "snapshots_interval": "86400",
        }
        conf["entity_graph"] = {"datasources_values_dir": values_dir()}
        conf["static"] = {"directory": self.static_dir or str(
            self.workdir / "static")}
        conf["coordination"] = {"backend_url": ""}
        for section, values in self.extra.items():
            conf.setdefault(section, {})
            conf[section].update({k: str(v) for k, v in values.items()})
        return conf

    def write(self) -> pathlib.Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        pathlib.Path(self.static_dir or self.workdir / "static").mkdir(
            parents=True, exist_ok=True)
        path = self.workdir / "vitrage.conf"
        with path.open("w") as out:
            self.render().write(out)
        return path


def parse(path: pathlib.Path) -> None:
    """Load the file into Vitrage's CONF as vitrage-graph would."""
    from oslo_config import cfg
    from vitrage.common import config as vitrage_config

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    cfg.CONF.reset()
    cfg.CONF.clear()
    vitrage_config.parse_config(["vitrage-selfheal"],
                                default_config_files=[str(path)])
    # Vitrage's log.setup replaces the host process's logging: undo that.
    root.handlers[:] = handlers
    root.setLevel(level)


def settings_from(conf: object, workdir: pathlib.Path) -> EngineSettings:
    """EngineSettings from the plugin's [engine] options."""
    from vitrage_selfheal import paths

    e = conf.engine  # type: ignore[attr-defined]
    extra: dict = {}
    if e.vitrage_overrides:
        parser = configparser.ConfigParser(interpolation=None)
        if not parser.read(e.vitrage_overrides):
            raise ValueError(f"[engine] vitrage_overrides: cannot read "
                             f"{e.vitrage_overrides}")
        extra = {section: dict(parser[section]) for section in
                 parser.sections()}
        if parser.defaults():
            extra["DEFAULT"] = dict(parser.defaults())
    # The unit vertices show each unit's heal state from our ledger.
    unit_opts = extra.setdefault(HEAT_UNIT_DATASOURCE, {})
    unit_opts.setdefault(
        "ledger_url", conf.selfheal.ledger_url)  # type: ignore[attr-defined]
    # HEALED shows while the unit cools down.
    unit_opts.setdefault("healed_for", str(int(
        conf.selfheal_policy.cooldown)))  # type: ignore[attr-defined]
    return EngineSettings(
        workdir=workdir,
        template_paths=list(e.templates) or [str(paths.templates_dir())],
        datasource_types=tuple(e.datasource_types),
        static_dir=e.static_dir or None,
        transport_url=e.transport_url, extra=extra)
