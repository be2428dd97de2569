"""Mistral workflow definitions shipped with the package.

Each `<name>.yaml` here is one Mistral v2 DSL document; `install_workflows`
in vitrage_selfheal.dispatch.mistral puts them into Mistral.
"""

from __future__ import annotations

from importlib import resources

from vitrage_selfheal.names import HEAL_WORKFLOW

__all__ = ["HEAL_WORKFLOW", "load", "names"]

_SUFFIX = ".yaml"


def names() -> list[str]:
    """Names of the shipped definitions (file names without .yaml)."""
    return sorted(entry.name[:-len(_SUFFIX)]
                  for entry in resources.files(__name__).iterdir()
                  if entry.name.endswith(_SUFFIX) and entry.is_file())


def load(name: str) -> str:
    """The YAML text of one shipped definition."""
    # A name is a file of this package, never a path from elsewhere.
    if name not in names():
        raise KeyError(f"no workflow definition {name!r}; "
                       f"shipped: {', '.join(names())}")
    return resources.files(__name__).joinpath(name + _SUFFIX).read_text(
        encoding="utf-8")
