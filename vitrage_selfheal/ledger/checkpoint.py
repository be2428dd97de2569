"""SQLite's WAL checkpoints, off the decision path.

In WAL mode a commit appends to the -wal file; now and then the pages go
back into the database file (a checkpoint, with its own fsync). SQLite
runs it inside whichever commit crosses `wal_autocheckpoint` pages: with
the default (1,000 pages, about 65 decisions) that is one decision in a
hundred, taking two to four times as long as the others: the ledger's p99.

Here one thread per process checkpoints every registered ledger file each
INTERVAL instead (PASSIVE: it never waits for, nor blocks, a reader or a
writer), and the ledger's connections only checkpoint themselves past
BACKSTOP_PAGES, should this thread fall behind or be gone. Durability is
unchanged: a commit is in the fsynced WAL either way.
"""

from __future__ import annotations

import logging
import pathlib
import sqlite3
import threading
from typing import Optional

LOG = logging.getLogger(__name__)

INTERVAL = 0.05
# What a ledger connection leaves to this thread (4 KiB pages: 16 MiB).
BACKSTOP_PAGES = 4000

_lock = threading.Lock()
# path -> how many live ledgers use it
_paths: dict[str, int] = {}
_thread: Optional[threading.Thread] = None


def register(path: pathlib.Path) -> None:
    """Checkpoint this database file from now on (until unregistered as
    many times as registered)."""
    global _thread
    key = str(path.resolve())
    with _lock:
        _paths[key] = _paths.get(key, 0) + 1
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="sqlite-checkpoint",
                                       daemon=True)
            _thread.start()


def unregister(path: pathlib.Path) -> None:
    key = str(path.resolve())
    with _lock:
        left = _paths.get(key, 0) - 1
        if left > 0:
            _paths[key] = left
        else:
            _paths.pop(key, None)


def _run() -> None:
    global _thread
    conns: dict[str, sqlite3.Connection] = {}
    stop = threading.Event()
    while not stop.wait(INTERVAL):
        with _lock:
            paths = set(_paths)
            if not paths:
                # Nothing left to do: the next register starts a thread.
                _thread = None
                break
        for key in set(conns) - paths:
            conns.pop(key).close()
        for key in paths:
            _checkpoint(conns, key)
    for conn in conns.values():
        conn.close()


def _checkpoint(conns: dict[str, sqlite3.Connection], key: str) -> None:
    try:
        conn = conns.get(key)
        if conn is None:
            # mode=rw: a file not created yet (or removed) stays absent.
            conn = conns[key] = sqlite3.connect(
                pathlib.Path(key).as_uri() + "?mode=rw", uri=True, timeout=0,
                isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:
        # Busy, not there yet, or gone: the backstop still holds.
        LOG.debug("checkpoint of %s skipped: %s", key, exc)
        old = conns.pop(key, None)
        if old is not None:
            old.close()
