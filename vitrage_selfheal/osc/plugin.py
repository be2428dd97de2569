"""The OpenStackClient plugin module (entry point `openstack.cli.extension
= selfheal`): its API name, version option, client and global options.

The "client" is local: vitrage-selfheal's configuration and, through it,
its ledger. The commands need no Keystone token, as `vitrage-selfheal`
needs none: whoever may read the ledger's URL (the config file) may
operate it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any, Optional

from osc_lib import exceptions, utils

API_NAME = "selfheal"
API_VERSION_OPTION = "os_selfheal_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = {"1": "vitrage_selfheal.osc.plugin.SelfhealClient"}
CONFIG_ENV = "OS_SELFHEAL_CONFIG_FILE"


class SelfhealClient:
    """vitrage-selfheal's configuration, loaded (and checked) on first
    use, so that `openstack selfheal validate` works without one."""

    def __init__(self, config_files: Sequence[str]) -> None:
        self.config_files = list(config_files)
        self._conf: Any = None

    @property
    def conf(self) -> Any:
        if self._conf is None:
            from oslo_config import cfg

            from vitrage_selfheal.app import load_config
            try:
                self._conf = load_config(self.config_files)
            except (cfg.Error, ValueError) as exc:
                raise exceptions.CommandError(
                    f"vitrage-selfheal configuration error: {exc}") from None
        return self._conf


def config_files(value: Optional[str | Sequence[str]]) -> list[str]:
    """--os-selfheal-config-file values, else $OS_SELFHEAL_CONFIG_FILE
    (os.pathsep-separated), else none: oslo.config's default locations
    (/etc/vitrage-selfheal/vitrage-selfheal.conf, ...)."""
    # openstack.config also turns OS_* variables into cloud settings, so
    # the variable can arrive here as the option's value, one string.
    if not value:
        value = os.environ.get(CONFIG_ENV, "")
    if isinstance(value, str):
        return [p for p in value.split(os.pathsep) if p]
    return list(value)


def make_client(instance: Any) -> SelfhealClient:
    # The shell hands its parsed global options to openstack.config, which
    # keeps them (without the os_ prefix) in the cloud's config.
    options = getattr(instance, "_cli_options", None)
    given = getattr(options, "config", {}).get("selfheal_config_file")
    return SelfhealClient(config_files(given))


def build_option_parser(parser: argparse.ArgumentParser
                        ) -> argparse.ArgumentParser:
    parser.add_argument(
        "--os-selfheal-api-version", metavar="<selfheal-api-version>",
        default=utils.env("OS_SELFHEAL_API_VERSION",
                          default=DEFAULT_API_VERSION),
        help=f"selfheal command set version, default={DEFAULT_API_VERSION} "
             f"(Env: OS_SELFHEAL_API_VERSION)")
    parser.add_argument(
        "--os-selfheal-config-file", metavar="<path>", action="append",
        dest="os_selfheal_config_file",
        help=f"vitrage-selfheal configuration file (repeatable; Env: "
             f"{CONFIG_ENV}, {os.pathsep}-separated)")
    return parser
