"""Logging helpers shared by the commands that host Vitrage code."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any, Optional

from vitrage_selfheal.clock import Clock, SystemClock


@contextlib.contextmanager
def quiet(name: str, level: int = logging.CRITICAL) -> Iterator[None]:
    """Raise a logger's threshold for a block; restored afterwards."""
    logger = logging.getLogger(name)
    saved = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(saved)


class Throttled:
    """At most one line per `interval` seconds; the next line that is let
    through says how many were suppressed since the previous one.

    For events any peer can cause at will (refused requests): one line per
    event would let it flood the log; none would hide a misconfiguration.
    """

    def __init__(self, logger: logging.Logger, level: int, interval: float,
                 clock: Optional[Clock] = None) -> None:
        self._logger = logger
        self._level = level
        self._interval = interval
        self._clock = clock or SystemClock()
        self._last: Optional[float] = None
        self._suppressed = 0
        self._lock = threading.Lock()

    def log(self, msg: str, *args: Any) -> bool:
        """Log `msg % args` unless a line went out less than `interval`
        ago; whether it went out."""
        with self._lock:
            now = self._clock.now()
            previous = self._last
            if previous is not None and now - previous < self._interval:
                self._suppressed += 1
                return False
            suppressed, self._suppressed = self._suppressed, 0
            self._last = now
        if suppressed and previous is not None:
            self._logger.log(self._level,
                             msg + " (%d more suppressed in the last %.0f s)",
                             *args, suppressed, now - previous)
        else:
            self._logger.log(self._level, msg, *args)
        return True


def mask_url(url: str) -> str:
    """`url` with its password replaced by ***, for log lines."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # Unparseable: it may still hold a password, so show none of it.
        return "<unparseable URL>"


@contextlib.contextmanager
def into_file(path: Any, console_level: int = logging.ERROR,
              level: int = logging.INFO) -> Iterator[None]:
    """For a block, the process's log goes to `path` (at `level`) and only
    records of `console_level` and above still reach stderr: a narrated
    command's output stays a story, what Vitrage says stays findable."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setLevel(level)
    to_file.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    to_console = logging.StreamHandler()
    to_console.setLevel(console_level)
    to_console.setFormatter(logging.Formatter(
        "%(levelname)s %(name)s: %(message)s"))
    root.handlers = [to_file, to_console]
    root.setLevel(min(level, console_level))
    try:
        yield
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        to_file.close()
