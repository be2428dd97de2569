"""Where the operator-facing files are, in a checkout and when installed."""

from __future__ import annotations

import pathlib
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def _first(*candidates: pathlib.Path) -> pathlib.Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def templates_dir() -> pathlib.Path:
    """templates/ of the checkout, or the copy pip installed as data."""
    return _first(CHECKOUT / "templates",
                  pathlib.Path(sys.prefix) / "share" / "vitrage-selfheal" /
                  "templates")


def scenarios_dir() -> pathlib.Path:
    return _first(CHECKOUT / "scenarios",
                  pathlib.Path(sys.prefix) / "share" / "vitrage-selfheal" /
                  "scenarios")
