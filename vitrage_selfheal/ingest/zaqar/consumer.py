"""The Zaqar queue consumer: Aodh alarm actions in, heal requests out.

One pass (`poll`) claims a batch from each queue and hands each message,
parsed and its server resolved to a unit, to the sink through `deliver`.
A message is deleted (acknowledged) only once its outcome is persisted or
deliberately dropped: SUBMITTED, REJECTED, IGNORED (or REPLAYED). When the
sink could not record it (FAILED: the ledger is down) or its unit cannot
be known yet (ResolveLater), the batch stops there and the claim is
released: that message and the ones after it go back to the queue and are
claimed again after a backoff. The queue is the buffer, so nothing is
spooled here. A poison message (a body that is not an Aodh alarm object)
is rejected through the sink, so it is a ledger row, then deleted and
counted: never claimed again.

Zaqar unreachable: counted, logged at most once per interval, backed off,
and reported by `problem()` (GET /healthz) once it lasts; never raised out
of the thread.
"""

from __future__ import annotations

import logging
import threading
from typing import Optional

from vitrage_selfheal import metrics
from vitrage_selfheal.clock import Clock, SystemClock
from vitrage_selfheal.ingest import (
    IngestStats,
    OutcomeKind,
    RequestSink,
    deliver,
)
from vitrage_selfheal.ingest.results import Parsed, Rejection
from vitrage_selfheal.ingest.zaqar import parse
from vitrage_selfheal.ingest.zaqar.client import (
    Message,
    ZaqarClient,
    ZaqarError,
)
from vitrage_selfheal.ingest.zaqar.resolver import ResolveLater, ServerUnits
from vitrage_selfheal.logs import Throttled
from vitrage_selfheal.model import Reason

LOG = logging.getLogger(__name__)

__all__ = ["ACKED", "ZaqarConsumer", "counter"]

# Outcomes after which the message is deleted: persisted, or dropped on
# purpose (an `ok` transition, a replay of something applied).
ACKED = frozenset({OutcomeKind.SUBMITTED, OutcomeKind.REJECTED,
                   OutcomeKind.IGNORED, OutcomeKind.REPLAYED})

UNREACHABLE = "zaqar.unreachable"
ACK_FAILED = "zaqar.ack_failed"
RELEASED = "zaqar.released"
RELEASE_FAILED = "zaqar.release_failed"
POISON = "zaqar.poison"
RESOLVE_LATER = "zaqar.resolve_later"
INTERNAL_ERROR = "zaqar.internal_error"


def counter(kind: OutcomeKind) -> str:
    """The counter of messages with this outcome, e.g.
    `zaqar.messages.submitted`."""
    return f"zaqar.messages.{kind.value}"


class ZaqarConsumer:
    """Consumes `queues`; `poll` is one pass, `start`/`stop` run passes in
    a daemon thread. The sink is the App (submit raises NotRecorded when
    the ledger cannot take a request: not its spooling sink)."""

    def __init__(self, client: ZaqarClient, queues: list[str],
                 sink: RequestSink, resolver: ServerUnits,
                 clock: Optional[Clock] = None,
                 counters: Optional[metrics.Counters] = None,
                 stats: Optional[IngestStats] = None, batch: int = 10,
                 claim_ttl: int = 300, claim_grace: int = 60,
                 poll_interval: float = 5.0, max_backoff: float = 60.0,
                 log_interval: float = 60.0,
                 failing_limit: float = 30.0) -> None:
        if not queues:
            raise ValueError("a Zaqar consumer needs at least one queue")
        self.client = client
        self.queues = list(queues)
        self.sink = sink
        self.resolver = resolver
        self.clock = clock or SystemClock()
        self.counters = counters or getattr(sink, "counters", None) or \
            metrics.default()
        self.stats = stats or IngestStats()
        self.batch, self.claim_ttl, self.claim_grace = (batch, claim_ttl,
                                                        claim_grace)
        self.poll_interval, self.max_backoff = poll_interval, max_backoff
        self.failing_limit = failing_limit
        self._unreachable_log = Throttled(LOG, logging.WARNING,
                                          log_interval, self.clock)
        self._later_log = Throttled(LOG, logging.WARNING, log_interval,
                                    self.clock)
        # Consecutive passes with a failure, for the backoff; since when
        # Zaqar has not answered, for health.
        self._failures = 0
        self._failing_since: Optional[float] = None
        self._last_error = ""
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # -- one pass -------------------------------------------------------------
    def poll(self) -> float:
        """Claim and handle a batch of each queue; the seconds to wait
        before the next pass (0 after a full batch, to drain a storm)."""
        failed = full = False
        for queue in self.queues:
            try:
                messages = self.client.claim(queue, self.batch,
                                             self.claim_ttl,
                                             self.claim_grace)
            except ZaqarError as exc:
                self._unreachable(exc)
                failed = True
                continue
            self._failing_since = None
            if not self._handle_batch(queue, messages):
                failed = True
            elif len(messages) >= self.batch:
                full = True
        if failed:
            self._failures += 1
            return min(self.poll_interval * 2 ** self._failures,
                       self.max_backoff)
        self._failures = 0
        return 0.0 if full else self.poll_interval

    def _handle_batch(self, queue: str, messages: list[Message]) -> bool:
        """Handle messages in order; False if one must be retried (the
        claim of it and of the rest is released)."""
        for n, message in enumerate(messages):
            if self._handle(queue, message):
                self._ack(queue, message)
                continue
            # Order kept: the rest go back with it, not ahead of it.
            self._release(queue, {m.claim_id for m in messages[n:]})
            return False
        return True

    def _handle(self, queue: str, message: Message) -> bool:
        """Whether the message is done with (to be deleted)."""
        try:
            parsed = self._parse(message)
        except ResolveLater as exc:
            self.counters.inc(RESOLVE_LATER)
            self._later_log.log("zaqar: message %s of queue %s waits: %s",
                                message.id, queue, exc)
            return False
        except Exception as exc:
            # A bug, not bad input; still one ledger row and a delete, so
            # the message cannot come back and break every pass.
            self.counters.inc(INTERNAL_ERROR)
            LOG.exception("zaqar: could not parse message %s of queue %s: "
                          "%r", message.id, queue, message.body)
            parsed = Rejection(Reason.MALFORMED,
                               f"Zaqar message {message.id}: internal "
                               f"error while parsing: "
                               f"{type(exc).__name__}: {exc}")
        outcome = deliver(parsed, self.sink, parse.SOURCE, self.stats)
        self.counters.inc(counter(outcome.kind))
        if outcome.kind is OutcomeKind.FAILED:
            LOG.warning("zaqar: message %s of queue %s not recorded (%s); "
                        "back to the queue", message.id, queue,
                        outcome.detail)
            return False
        return outcome.kind in ACKED

    def _parse(self, message: Message) -> Parsed:
        read = parse.read_body(message.body)
        if isinstance(read, Rejection):
            self.counters.inc(POISON)
            return Rejection(read.reason,
                             f"Zaqar message {message.id}: {read.detail}")
        if not isinstance(read, parse.ServerAlarm):
            return read
        now = self.clock.now()
        unit = self.resolver.resolve(read.server_id, now - message.age)
        if unit is None:
            seen = self.resolver.read_at
            ago = f" {now - seen:.0f} s ago" if seen is not None else ""
            return parse.unknown_unit(
                read, f"no unit of any stack has this server (Heat "
                      f"read{ago}, after the message was posted)")
        return parse.heal_request(read, unit)

    def _ack(self, queue: str, message: Message) -> None:
        try:
            self.client.delete(queue, message.id, message.claim_id)
        except ZaqarError as exc:
            # It comes back when the claim ends, and is a DUPLICATE then.
            self.counters.inc(ACK_FAILED)
            self._unreachable_log.log(
                "zaqar: message %s recorded but not deleted (%s); it will "
                "be delivered again, as a duplicate", message.id, exc)

    def _release(self, queue: str, claims: set[str]) -> None:
        for claim in sorted(claims):
            try:
                self.client.release(queue, claim)
                self.counters.inc(RELEASED)
            except ZaqarError as exc:
                # The claim expires by itself after claim_ttl.
                self.counters.inc(RELEASE_FAILED)
                self._unreachable_log.log(
                    "zaqar: claim %s not released (%s); its messages "
                    "return after claim_ttl %d s", claim, exc,
                    self.claim_ttl)

    def _unreachable(self, exc: ZaqarError) -> None:
        self.counters.inc(UNREACHABLE)
        self._last_error = str(exc)
        if self._failing_since is None:
            self._failing_since = self.clock.now()
        self._unreachable_log.log("zaqar: %s; retrying with backoff", exc)

    # -- health ---------------------------------------------------------------
    def problem(self) -> Optional[str]:
        """What GET /healthz says of the consumer, None when well."""
        if self._thread is not None and not self._thread.is_alive() and \
                not self._stop.is_set():
            return "zaqar consumer thread is not running"
        if self._failing_since is None:
            return None
        age = self.clock.now() - self._failing_since
        if age < self.failing_limit:
            return None
        return (f"zaqar unreachable for {age:.0f} s: "
                f"{self._last_error}"[:300])

    # -- thread ---------------------------------------------------------------
    def start(self) -> ZaqarConsumer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="selfheal-zaqar")
            self._thread.start()
            LOG.info("zaqar: consuming %s at %s", ", ".join(self.queues),
                     self.client.root)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the message in hand (its claim ends by itself if this
        times out) and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.poll()
            except Exception:
                # The loop must outlive any bug in a pass.
                self.counters.inc(INTERNAL_ERROR)
                LOG.exception("zaqar: consumer pass failed")
                delay = self.max_backoff
            self._stop.wait(delay)

