"""Ingest: raw Vitrage notifications in, HealRequests (or named rejections)
out, handed to a RequestSink.

`deliver` is the one place that talks to the sink, shared by the Vitrage
notifier plugin and the webhook receiver: it never raises, because either
caller runs inside a process (Vitrage's notifier, an HTTP server) that must
survive a broken sink.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
import threading
from typing import Any, Optional, Protocol

from vitrage_selfheal.errors import NotRecorded, Replayed
from vitrage_selfheal.ingest.parse import (
    Ignored,
    Parsed,
    Rejection,
    parse_external_action,
    parse_graph_event,
)
from vitrage_selfheal.model import Decision, HealRequest, Reason

LOG = logging.getLogger(__name__)

__all__ = [
    "Ignored", "IngestStats", "Outcome", "OutcomeKind", "Parsed",
    "Rejection", "RequestSink", "deliver", "ingest", "parse_external_action",
    "parse_graph_event",
]


class RequestSink(Protocol):
    """Where parsed input goes. Both methods persist before returning;
    both may raise `errors.Replayed` for a delivery applied before, and
    `submit` raises `errors.NotRecorded` when nothing could be stored.
    `reject` is called with `delivery=` only when there is one."""

    def submit(self, request: HealRequest) -> list[Decision]: ...

    def reject(self, reason: Reason, detail: str, source: str) -> Decision:
        ...


class OutcomeKind(str, enum.Enum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    IGNORED = "ignored"
    # The sink raised: nothing was recorded; a sender may retry.
    FAILED = "failed"
    # This signed delivery was applied before; nothing was done again.
    REPLAYED = "replayed"


@dataclasses.dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    decisions: tuple[Decision, ...] = ()
    detail: str = ""


class IngestStats:
    """Thread-safe counts per OutcomeKind (plus whatever callers add).

    Ignored input never reaches the sink, so this is where it is counted.
    """

    def __init__(self) -> None:
        self._counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


def deliver(parsed: Parsed, sink: RequestSink, source: str,
            stats: Optional[IngestStats] = None,
            delivery: Optional[str] = None) -> Outcome:
    """Hand one parsed notification to the sink; never raises.

    `delivery` names the signed request it came in, so that the sink can
    refuse a replay of it.
    """
    try:
        outcome = _deliver(parsed, sink, source, delivery)
    except Replayed:
        outcome = Outcome(OutcomeKind.REPLAYED,
                          detail=f"delivery {delivery} was applied before")
    if stats is not None:
        stats.count(outcome.kind.value)
    return outcome


def ingest(event_type: str, payload: Any, source: str, conf: Any,
           sink: RequestSink,
           stats: Optional[IngestStats] = None,
           delivery: Optional[str] = None) -> Outcome:
    """parse_graph_event + deliver; never raises."""
    try:
        parsed = parse_graph_event(event_type, payload, source, conf)
    except Exception as exc:
        # A bug in parsing, not bad input (that is a Rejection): keep the
        # traceback, and still record that something arrived and was lost.
        LOG.exception("could not parse %s from %s: %r", event_type, source,
                      payload)
        parsed = Rejection(Reason.MALFORMED,
                           f"{event_type}: internal error while parsing: "
                           f"{type(exc).__name__}: {exc}")
    return deliver(parsed, sink, source, stats, delivery)


def _deliver(parsed: Parsed, sink: RequestSink, source: str,
             delivery: Optional[str]) -> Outcome:
    if isinstance(parsed, Ignored):
        LOG.debug("ignored input from %s: %s", source, parsed.detail)
        return Outcome(OutcomeKind.IGNORED, detail=parsed.detail)
    if isinstance(parsed, Rejection):
        LOG.warning("rejected input from %s: %s: %s", source,
                    parsed.reason.value, parsed.detail)
        extra = {"delivery": delivery} if delivery is not None else {}
        try:
            decision = sink.reject(parsed.reason, parsed.detail, source,
                                   **extra)
        except Replayed:
            raise
        except Exception:
            LOG.exception("sink could not record the rejection from %s "
                          "(%s: %s)", source, parsed.reason.value,
                          parsed.detail)
            return Outcome(OutcomeKind.FAILED, detail=parsed.detail)
        return Outcome(OutcomeKind.REJECTED, (decision,), parsed.detail)
    if delivery is not None:
        parsed = dataclasses.replace(parsed, delivery=delivery)
    try:
        decisions = sink.submit(parsed)
    except Replayed:
        raise
    except NotRecorded as exc:
        # Logged by the sink; the sender retries or the sink spooled.
        return Outcome(OutcomeKind.FAILED, detail=f"not recorded: {exc}")
    except Exception:
        # The request is in this log line and nowhere else: keep all of it.
        LOG.exception("sink failed; heal request from %s NOT recorded: %r",
                      source, parsed)
        return Outcome(OutcomeKind.FAILED, detail=repr(parsed))
    return Outcome(OutcomeKind.SUBMITTED, tuple(decisions or ()))
