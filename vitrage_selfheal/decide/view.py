"""The read-only history the stages decide over.

The ledger implements it (ledger/view.py) and so can a dict in a test:
stages never see a database row, a session or a client.
"""

from __future__ import annotations

from typing import Optional, Protocol

from vitrage_selfheal.model import (
    AlarmRecord,
    HoldRecord,
    Intent,
    IntentRecord,
    ScaleRecord,
)


class HistoryView(Protocol):
    def hold_for(self, root_stack_id: str) -> Optional[HoldRecord]:
        """The hold that stops this stack, operator holds first."""

    def active_alarms(self, unit_key: str,
                      intent: Intent) -> list[AlarmRecord]: ...

    def last_cleared(self, unit_key: str,
                     intent: Intent) -> Optional[float]:
        """When the newest inactive alarm of this intent cleared."""

    def open_intent(self, unit_key: str) -> Optional[IntentRecord]: ...

    def unhealthy_in_group(self, group_key: str) -> list[str]:
        """Unit keys with an unanswered heal alarm in the group."""

    def held_in_group(self, group_key: str, reason: str) -> list[str]:
        """Unit keys of the group held for `reason` (a Reason's value)."""

    def open_scale(self, group_key: str) -> Optional[ScaleRecord]:
        """The group's scale request still queued or in an operation."""

    def last_scaled(self, group_key: str) -> Optional[float]:
        """When the group's last scale operation succeeded."""

    def last_admitted(self, unit_key: str) -> Optional[str]:
        """The reason of the unit's latest admitted heal, if any."""

    def starts_since(self, since: float) -> int:
        """Executions started (or tried) since then, all stacks."""
