"""Where the Vitrage state-value files of the package are.

They live inside the package (datasources_values/), so the same path
works from a checkout and from a pip install: pbr ships every git-tracked
file under a package directory as package data.
"""

from __future__ import annotations

import pathlib

VALUES_DIRNAME = "datasources_values"


def values_dir() -> str:
    """The folder for `[entity_graph] datasources_values_dir`."""
    return str(pathlib.Path(__file__).resolve().parent / VALUES_DIRNAME)
