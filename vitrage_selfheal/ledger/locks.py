"""Locks shared by every replica, through tooz (file:// by default).

Locks narrow races; they are not the last line: the ledger's unique
constraints and Mistral's caller-chosen execution ids still refuse
duplicates if a lock backend misbehaves.
"""

from __future__ import annotations

import contextlib
import logging
import threading
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
        self._guard = threading.Lock()
        # One per stack name ever locked here: a few hundred bytes each.
        self._local: dict[str, threading.Lock] = {}
        # The backend's lock objects, reused: tooz locks may be acquired
        # again once released, and building one (a path check, a lock
        # file object) cost as much as taking it. Used only while the
        # name's local lock is held, so by one thread at a time.
        self._remote: dict[str, object] = {}

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        # Threads of this process first: a file lock (fcntl) is held per
        # process, so two threads would both "get" it.
        with self._guard:
            local = self._local.setdefault(name, threading.Lock())
        if not local.acquire(timeout=self.timeout):
            raise self._timeout(name)
        try:
            lock = self._remote.get(name)
            if lock is None:
                lock = self._remote[name] = self._coordinator.get_lock(
                    f"selfheal-{name}".encode())
            if not lock.acquire(blocking=self.timeout):
                raise self._timeout(name)
            try:
                yield
            finally:
                lock.release()
        finally:
            local.release()

    def _timeout(self, name: str) -> LockTimeout:
        return LockTimeout(f"lock {name!r} not acquired within "
                           f"{self.timeout:g}s ({self.url})")

    def stop(self) -> None:
        try:
            self._coordinator.stop()
        except Exception:  # stopping must not mask the caller's error
            LOG.exception("stopping the coordinator failed")
