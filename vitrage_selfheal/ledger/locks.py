"""Locks shared by every replica, through tooz (file:// by default).

Locks narrow races; they are not the last line: the ledger's unique
constraints and Mistral's caller-chosen execution ids still refuse
duplicates if a lock backend misbehaves.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from urllib import parse

from tooz import coordination

LOG = logging.getLogger(__name__)


class LockTimeout(Exception):
    pass


class Locks:
    def __init__(self, url: str, member_id: str,
                 timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        path = parse.urlparse(url)
        if path.scheme == "file":
            # tooz's file driver wants the directory to exist.
            import os
            os.makedirs(path.path, exist_ok=True)
        self._coordinator = coordination.get_coordinator(
            url, member_id.encode())
        self._coordinator.start(start_heart=True)

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        lock = self._coordinator.get_lock(f"selfheal-{name}".encode())
        if not lock.acquire(blocking=self.timeout):
            raise LockTimeout(
                f"lock {name!r} not acquired within {self.timeout:g}s "
                f"({self.url})")
        try:
            yield
        finally:
            lock.release()

    def stop(self) -> None:
        try:
            self._coordinator.stop()
        except Exception:  # stopping must not mask the caller's error
            LOG.exception("stopping the coordinator failed")
