"""A local, durable overflow for what could not be handed on right now:
requests the ledger could not take, notifications the receiver refused.

Vitrage's notifier plugins have no redelivery: an event the ledger cannot
store right now must not live only in memory. It is appended to this file
(fsynced before the caller returns) and replayed, in order, by the ticker
once the ledger answers again; an entry leaves the file only after it was
stored. The file is locked (flock) for every access, so processes that
share a state directory can share it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import pathlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from vitrage_selfheal.model import HealRequest, Intent, Unit

LOG = logging.getLogger(__name__)

T = TypeVar("T")


class SpoolFull(Exception):
    """The spool reached its size limit; the request was NOT kept."""


def encode(request: HealRequest) -> str:
    return json.dumps(dataclasses.asdict(request), sort_keys=True,
                      ensure_ascii=True)


def decode(line: str) -> HealRequest:
    """The request in one spool line; ValueError/TypeError/KeyError if the
    line is not one."""
    fields: dict[str, Any] = json.loads(line)
    fields["unit"] = Unit(**fields["unit"])
    fields["intent"] = Intent(fields["intent"])
    fields["causes"] = tuple(fields.get("causes") or ())
    return HealRequest(**fields)


class Spool(Generic[T]):
    """Items one JSON line each; `encode`/`decode` say how (HealRequests
    by default)."""

    def __init__(self, path: str, max_bytes: int,
                 encode: Callable[[T], str] = encode,  # type: ignore
                 decode: Callable[[str], T] = decode  # type: ignore
                 ) -> None:
        self.path = pathlib.Path(path)
        self.max_bytes = max_bytes
        self._encode = encode
        self._decode = decode
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._bad_path = self.path.with_name(self.path.name + ".bad")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def put(self, item: T) -> None:
        """Append durably; SpoolFull or OSError if it could not be kept."""
        line = self._encode(item) + "\n"
        if "\n" in line[:-1] or not line.isascii():
            raise ValueError("a spool entry must be one ASCII line")
        with self._locked():
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(line) > self.max_bytes:
                raise SpoolFull(f"spool {self.path} holds {size} bytes, "
                                f"limit {self.max_bytes}")
            with open(self.path, "a", encoding="ascii") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

    def __len__(self) -> int:
        with self._locked():
            return len(self._lines())

    def _lines(self) -> list[str]:
        if not self.path.exists():
            return []
        return [line for line in
                self.path.read_text(encoding="ascii").splitlines() if line]

    def drain(self, store: Callable[[T], Any]) -> int:
        """Hand entries to `store` in order until one raises; keep the
        rest. Returns how many were stored. An unreadable line is moved to
        the `.bad` file beside the spool, never dropped."""
        with self._locked():
            lines = self._lines()
            done = 0
            try:
                for line in lines:
                    try:
                        item = self._decode(line)
                    except (ValueError, TypeError, KeyError) as exc:
                        LOG.error("spool %s: unreadable entry moved to %s: "
                                  "%s", self.path, self._bad_path, exc)
                        self._keep_bad(line)
                    else:
                        store(item)
                    done += 1
            finally:
                if done:
                    self._rewrite(lines[done:])
            return done

    def _keep_bad(self, line: str) -> None:
        with open(self._bad_path, "a", encoding="ascii") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _rewrite(self, lines: list[str]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="ascii") as f:
            f.writelines(line + "\n" for line in lines)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
