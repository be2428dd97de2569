"""Per-stack work in a bounded pool, so that one slow Mistral or Heat call
delays its own stack and nobody else's.

A tick hands each stack's job to the pool and waits at most `wait`
seconds; a job still running then stays in flight (its stack is skipped
until it ends) and what it decides is returned by a later tick. With no
threads, jobs run inline, in order: deterministic, for tests and the
simulator.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Optional

from vitrage_selfheal.clock import Clock
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import Decision

LOG = logging.getLogger(__name__)

Job = Callable[[], list[Decision]]
# A job in flight this long is reported once: a call that hangs.
SLOW_JOB = 30.0


class StackWorkers:
    def __init__(self, threads: int, wait: float, clock: Clock,
                 counters: Counters) -> None:
        self.wait = wait
        self.clock = clock
        self.counters = counters
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = (
            concurrent.futures.ThreadPoolExecutor(
                threads, thread_name_prefix="selfheal-stack")
            if threads > 0 else None)
        self._busy: dict[str, tuple[concurrent.futures.Future, float]] = {}
        self._reported: set[str] = set()
        self._lock = threading.Lock()
        self.failed = False

    def run(self, jobs: Sequence[tuple[str, Job]]) -> list[Decision]:
        """Run one job per stack; the decisions of every job that ended."""
        if self._pool is None:
            return [d for stack, job in jobs for d in self._guarded(stack,
                                                                     job)]
        started = []
        now = self.clock.now()
        with self._lock:
            for stack, job in jobs:
                if stack in self._busy:
                    self._still_busy(stack, now)
                    continue
                future = self._pool.submit(self._guarded, stack, job)
                self._busy[stack] = (future, now)
                started.append(future)
        if started:
            concurrent.futures.wait(started, timeout=self.wait)
        return self._collect()

    def _still_busy(self, stack: str, now: float) -> None:
        since = self._busy[stack][1]
        if now - since >= SLOW_JOB and stack not in self._reported:
            self._reported.add(stack)
            self.counters.inc("workers.slow_jobs")
            LOG.warning("stack %s: its last step has run for %.0fs (a slow "
                        "Mistral or Heat call); other stacks go on",
                        stack, now - since)

    def _collect(self) -> list[Decision]:
        decisions: list[Decision] = []
        with self._lock:
            for stack, (future, _) in list(self._busy.items()):
                if future.done():
                    del self._busy[stack]
                    self._reported.discard(stack)
                    decisions += future.result()
        return decisions

    def _guarded(self, stack: str, job: Job) -> list[Decision]:
        # One stack's failure must not stop the others' steps.
        try:
            return job()
        except Exception:
            self.failed = True
            self.counters.inc("errors.stack_step")
            LOG.exception("step for stack %s failed", stack)
            return []

    def take_failed(self) -> bool:
        failed, self.failed = self.failed, False
        return failed

    def in_flight(self) -> list[str]:
        with self._lock:
            return sorted(self._busy)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
