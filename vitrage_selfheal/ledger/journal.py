"""The inbox's write-ahead journal: every request handed to the inbox is
appended here before the hand-off returns, and leaves only once the
ledger has taken it.

An append is one `os.write` to a file opened O_APPEND: it is in the
kernel when the caller returns, so a crash of this process loses nothing.
It is not fsynced per entry (that would put a disk flush back on
Vitrage's thread); `sync()` flushes what is appended, and the inbox calls
it at every drain, so a power loss costs at most one drain interval.

Segments: the drainer `rotate()`s the live file to a numbered
`.draining` segment, stores what it holds, then `done()` deletes it. A
restart `recover()`s every segment left behind, oldest first, then the
live file.
"""

from __future__ import annotations

import logging
import os
import pathlib
import threading
from collections.abc import Callable
from typing import Generic, Optional, TypeVar

from vitrage_selfheal.ledger import spool

LOG = logging.getLogger(__name__)

T = TypeVar("T")


class Journal(Generic[T]):
    def __init__(self, path: str,
                 encode: Callable[[T], str] = spool.encode,  # type: ignore
                 decode: Callable[[str], T] = spool.decode  # type: ignore
                 ) -> None:
        self.path = pathlib.Path(path)
        self._encode = encode
        self._decode = decode
        self._lock = threading.Lock()
        self._fd: Optional[int] = None
        self._segment = 0

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path,
                               os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return self._fd

    def append(self, item: T) -> None:
        """OSError if the entry could not be written."""
        data = (self._encode(item) + "\n").encode("ascii")
        with self._lock:
            os.write(self._open(), data)

    def sync(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def rotate(self) -> Optional[pathlib.Path]:
        """The live file becomes a segment to drain (None if empty)."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
            if not self.path.exists() or self.path.stat().st_size == 0:
                return None
            self._segment += 1
            segment = self._segment_path(self._segment)
            os.replace(self.path, segment)
            return segment

    def done(self, segment: Optional[pathlib.Path]) -> None:
        if segment is not None:
            segment.unlink(missing_ok=True)

    def _segment_path(self, n: int) -> pathlib.Path:
        return self.path.with_name(f"{self.path.name}.{n:012d}.draining")

    def recover(self) -> tuple[list[T], list[pathlib.Path]]:
        """What a previous process left: the entries, oldest first, and the
        files they came from (to be `done()` once stored). Unreadable lines
        go to the `.bad` file beside the journal."""
        files = sorted(self.path.parent.glob(f"{self.path.name}.*.draining"))
        numbers = [int(f.name.rsplit(".", 2)[-2]) for f in files]
        self._segment = max(numbers, default=0)
        if self.path.exists():
            files.append(self.rotate() or self.path)
        items: list[T] = []
        for path in files:
            if not path.exists():
                continue
            for line in path.read_text(encoding="ascii",
                                       errors="replace").splitlines():
                if not line:
                    continue
                try:
                    items.append(self._decode(line))
                except (ValueError, TypeError, KeyError) as exc:
                    LOG.error("journal %s: unreadable entry kept in %s: %s",
                              path, self._bad_path(), exc)
                    with open(self._bad_path(), "a",
                              encoding="ascii") as bad:
                        bad.write(line + "\n")
        return items, [f for f in files if f.exists()]

    def _bad_path(self) -> pathlib.Path:
        return self.path.with_name(self.path.name + ".bad")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
