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


WORKDIR_MARKER = ".vitrage-selfheal-demo"


class WorkdirNotOurs(Exception):
    pass


def fresh_workdir(workdir: pathlib.Path) -> pathlib.Path:
    """An empty `workdir` for a demo run, marked as the demo's own.

    Each run counts only its own decisions, so the previous run's files
    go; but only from a directory a demo created (it holds the marker) or
    an empty one: `--workdir` may name any directory, even `~` or `/`.
    """
    import shutil

    if workdir.is_dir() and not workdir.is_symlink():
        if (workdir / WORKDIR_MARKER).is_file():
            shutil.rmtree(workdir)
        elif any(workdir.iterdir()):
            raise WorkdirNotOurs(
                f"refusing to clean {workdir}: it is not empty and has no "
                f"{WORKDIR_MARKER} marker, so no demo created it; name a "
                f"new or empty directory with --workdir")
    elif workdir.exists() or workdir.is_symlink():
        raise WorkdirNotOurs(
            f"refusing to use {workdir}: it is not a directory the demo "
            f"can create or clean")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / WORKDIR_MARKER).write_text(
        "Created by vitrage-selfheal demo, which deletes this directory "
        "on its next run.\n")
    return workdir
