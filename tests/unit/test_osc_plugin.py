"""The OpenStackClient plugin module's own logic: where the config file
names come from, and that the entry points name what exists."""

from __future__ import annotations

import argparse
import configparser
import importlib
import os

from vitrage_selfheal import paths
from vitrage_selfheal.osc import plugin


def test_config_files_from_option_env_or_nowhere(monkeypatch):
    monkeypatch.delenv(plugin.CONFIG_ENV, raising=False)
    assert plugin.config_files(None) == []
    assert plugin.config_files(["a.conf", "b.conf"]) == ["a.conf", "b.conf"]
    monkeypatch.setenv(plugin.CONFIG_ENV, f"x.conf{os.pathsep}y.conf")
    assert plugin.config_files(None) == ["x.conf", "y.conf"]
    # openstack.config hands an OS_* variable over as one string.
    assert plugin.config_files("z.conf") == ["z.conf"]
    assert plugin.config_files(["a.conf"]) == ["a.conf"]


def test_make_client_reads_the_shells_options():
    class Cloud:
        config = {"selfheal_config_file": ["/etc/x.conf"]}

    class Manager:
        _cli_options = Cloud()

    assert plugin.make_client(Manager()).config_files == ["/etc/x.conf"]


def test_global_options_parse():
    parser = plugin.build_option_parser(argparse.ArgumentParser())
    args = parser.parse_args(["--os-selfheal-config-file", "a",
                              "--os-selfheal-config-file", "b"])
    assert args.os_selfheal_config_file == ["a", "b"]
    assert args.os_selfheal_api_version == plugin.DEFAULT_API_VERSION


def test_every_entry_point_names_a_command_class():
    setup = configparser.ConfigParser()
    setup.read(paths.CHECKOUT / "setup.cfg")
    points = setup["entry_points"]
    assert points["openstack.cli.extension"].strip() == \
        "selfheal = vitrage_selfheal.osc.plugin"
    group = f"openstack.{plugin.API_NAME}.v{plugin.DEFAULT_API_VERSION}"
    names = set()
    for line in points[group].split("\n"):
        if not line.strip():
            continue
        name, target = (part.strip() for part in line.split("="))
        module, cls = target.split(":")
        command = getattr(importlib.import_module(module), cls)
        assert command.auth_required is False, name
        names.add(name)
    assert names == {f"selfheal_{c}" for c in (
        "history", "status", "hold", "release", "simulate", "validate")}
