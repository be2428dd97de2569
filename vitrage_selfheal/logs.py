"""Logging helpers shared by the commands that host Vitrage code."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


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
