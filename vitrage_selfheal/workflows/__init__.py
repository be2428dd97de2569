"""Mistral workflow definitions shipped with the package.

Each `<name>.yaml` here is one Mistral v2 DSL document; `install_workflows`
in vitrage_selfheal.dispatch.mistral puts them into Mistral.
"""

from __future__ import annotations

from importlib import resources

from vitrage_selfheal.names import (
    HEAL_WORKFLOW,
    REMEDY_WORKFLOW,
    SCALE_WORKFLOW,
)

__all__ = ["HEAL_WORKFLOW", "REMEDY_WORKFLOW", "SCALE_WORKFLOW", "load",
           "names"]

_SUFFIX = ".yaml"


# Definitions that others call as sub-workflows: installed first.
_CALLED = ("servers",)


def names() -> list[str]:
    """Names of the shipped definitions (file names without .yaml), in
    the order they are installed."""
    return sorted((entry.name[:-len(_SUFFIX)]
                   for entry in resources.files(__name__).iterdir()
                   if entry.name.endswith(_SUFFIX) and entry.is_file()),
                  key=lambda n: (n not in _CALLED, n))


def load(name: str) -> str:
    """The YAML text of one shipped definition."""
    # A name is a file of this package, never a path from elsewhere.
    if name not in names():
        raise KeyError(f"no workflow definition {name!r}; "
                       f"shipped: {', '.join(names())}")
    return resources.files(__name__).joinpath(name + _SUFFIX).read_text(
        encoding="utf-8")


# The heal workflow's bounded waits, as its `input` names them.
HEAL_TUNABLES = ("poll_delay", "max_polls", "conflict_delay",
                 "conflict_retries")


def input_defaults(name: str = "heal_units") -> dict[str, object]:
    """The defaults a definition's `input` declares (`- key: value`)."""
    import yaml

    doc = yaml.safe_load(load(name))
    (workflow,) = [v for k, v in doc.items() if k != "version"]
    defaults = {}
    for item in workflow.get("input", []):
        if isinstance(item, dict):
            defaults.update(item)
    return defaults


def heal_worst_case(poll_delay: float, max_polls: float,
                    conflict_delay: float, conflict_retries: float) -> float:
    """Seconds `selfheal.heal_units` may wait in all, by its own bounds:
    three 409 waits (root idle, marking, update) and the update poll."""
    return 3 * conflict_retries * conflict_delay + max_polls * poll_delay


# Fencing's own wait for a server to stop (selfheal.server_action, 24
# polls of 5 s as heal_units asks).
FENCE_STOP_WAIT = 120.0

# The margin over the workflow's waits for its Heat calls themselves.
EXECUTION_TIMEOUT_FACTOR = 1.25
