"""Which unit owns a Nova server: the heat.unit datasource's reading of
Heat, cached.

The walk of root stacks, groups, members and the servers inside each member
is the heat.unit driver's (datasources/heat/unit/driver.py); this module
reuses it, indexes its units by server id and keeps the index for
`ttl` seconds. A server's unit never changes (a replacement is a new
server), so the TTL only bounds how stale a unit's group size and stack
controls (selfheal:exclude) may be.

A miss is final (None: no unit has the server) only when the index comes
from a read of Heat that started after the message was posted; otherwise
Heat is read again, at most once per `min_interval` seconds, and a miss
that must wait for that is `ResolveLater`: the consumer gives the message
back to the queue. A storm of messages about servers nobody owns costs one
Heat walk per interval, not one per message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Optional

from vitrage_selfheal import metrics
from vitrage_selfheal.clock import Clock
from vitrage_selfheal.model import Unit

LOG = logging.getLogger(__name__)

__all__ = ["ResolveLater", "ServerUnits", "heat_units"]

# Counted: every walk of Heat the resolver made, and the ones that failed.
READS = "zaqar.resolver.reads"
READ_FAILED = "zaqar.resolver.read_failed"

UnitEvents = Callable[[], Iterable[dict]]


class ResolveLater(Exception):
    """No sure answer now (Heat unreadable, or a re-read not yet allowed);
    ask again later. Not the message's fault."""


class ServerUnits:
    """server id -> Unit. Not thread-safe: the consumer's thread owns it."""

    def __init__(self, read: UnitEvents, clock: Clock, ttl: float = 60.0,
                 min_interval: float = 10.0,
                 counters: Optional[metrics.Counters] = None) -> None:
        self._read = read
        self._clock = clock
        self._ttl = ttl
        self._min_interval = min_interval
        self._counters = counters or metrics.default()
        self._index: Optional[dict[str, Unit]] = None
        # When the read behind the index started (what a miss is judged
        # by), and when a read was last tried, good or not (what bounds
        # the reads).
        self._read_at: Optional[float] = None
        self._tried_at: Optional[float] = None
        self._error: Optional[str] = None

    def resolve(self, server_id: str, posted_at: float) -> Optional[Unit]:
        """The unit that has `server_id`; None if a read of Heat started
        after `posted_at` found none; raises ResolveLater otherwise."""
        now = self._clock.now()
        if self._index is None or now - (self._read_at or 0.0) >= self._ttl:
            self._refresh(now)
        if self._index is not None and server_id in self._index:
            # Even from a stale index: servers do not change units.
            return self._index[server_id]
        if self._read_at is not None and self._read_at >= posted_at \
                and self._index is not None:
            return None
        if self._refresh(now):
            assert self._index is not None
            return self._index.get(server_id)
        if self._error is not None:
            raise ResolveLater(f"Heat could not be read: {self._error}")
        wait = self._min_interval - (now - (self._tried_at or now))
        raise ResolveLater(
            f"server {server_id} is in no unit of the last read of Heat, "
            f"made before the message was posted; Heat is read again in "
            f"{max(wait, 0.0):.0f} s at most")

    @property
    def read_at(self) -> Optional[float]:
        return self._read_at

    def _refresh(self, now: float) -> bool:
        """Read Heat if allowed; whether the index is now from this read."""
        if self._tried_at is not None and \
                now - self._tried_at < self._min_interval:
            return False
        self._tried_at = now
        self._counters.inc(READS)
        try:
            events = list(self._read())
        except Exception as exc:
            self._counters.inc(READ_FAILED)
            self._error = f"{type(exc).__name__}: {exc}"
            LOG.error("zaqar: reading Heat's units failed (%s); %s",
                      self._error,
                      "keeping the last read" if self._index is not None
                      else "messages wait")
            return False
        self._error = None
        self._index = index(events)
        self._read_at = now
        LOG.debug("zaqar: %d server(s) in Heat's units", len(self._index))
        return True


def index(events: Iterable[dict]) -> dict[str, Unit]:
    """server id -> its unit, from heat.unit driver events (deletions of
    units gone since the driver's previous read are left out)."""
    from vitrage_selfheal.datasources.heat.unit.properties import (
        UnitProps as P,
    )

    found: dict[str, Unit] = {}
    for event in sorted(events, key=_vertex_id):
        # Vitrage's DSProps.EVENT_TYPE and GraphAction.DELETE_ENTITY.
        if event.get("vitrage_event_type") == "delete_entity":
            continue
        unit = Unit(root_stack_id=event[P.ROOT_STACK_ID],
                    stack_id=event[P.STACK_ID],
                    resource_name=event[P.RESOURCE_NAME],
                    physical_id=event.get(P.PHYSICAL_ID) or None,
                    group=event.get(P.GROUP) or event[P.STACK_ID],
                    group_size=event.get(P.GROUP_SIZE),
                    controls=event.get(P.CONTROLS) or "")
        for server in event.get(P.SERVER_IDS) or ():
            # One server in two units cannot happen in Heat; if a fake or
            # a race shows it, the first by unit id wins, every time.
            found.setdefault(server, unit)
    return found


def _vertex_id(event: dict) -> str:
    return "/".join(str(event.get(k, "")) for k in
                    ("root_stack_id", "stack_id", "resource_name"))


def heat_units(conn: Any, all_projects: bool = True,
               group_types: Optional[list[str]] = None,
               nested_depth: int = 5,
               counters: Optional[metrics.Counters] = None) -> UnitEvents:
    """A reader of every unit in Heat, by the heat.unit driver's walk.

    Imported lazily: the driver pulls in Vitrage. Nova is not asked: the
    resolver needs Heat's view of which server a member has (a server
    deleted outside Heat is still its member's until Heat replaces it),
    and a Nova listing of every server per root stack is a cost it does
    not need. No ledger either: heal_state is the graph's, not ours.
    """
    from vitrage.common.constants import DatasourceAction

    from vitrage_selfheal.datasources.heat.unit import DEFAULT_GROUP_TYPES
    from vitrage_selfheal.datasources.heat.unit import driver as drv
    from vitrage_selfheal.datasources.heat.unit.heal_state import (
        no_heal_state,
    )

    class _HeatOnly(drv.HeatUnitDriver):
        def _existing_servers(self, root_id: str) -> None:
            return None

    driver = _HeatOnly(conn=conn, heal_state=no_heal_state,
                       group_types=list(group_types or DEFAULT_GROUP_TYPES),
                       nested_depth=nested_depth, all_projects=all_projects,
                       counters=counters)

    def read() -> list[dict]:
        return driver.get_all(DatasourceAction.SNAPSHOT)
    return read
