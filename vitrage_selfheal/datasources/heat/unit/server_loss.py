"""Units whose server disappeared outside Heat: state SERVER_MISSING.

Heat does not notice an out-of-band `server delete`: the member stays
*_COMPLETE and no orchestration notification is sent. Nova's delete
notification is the signal; the root stack's status tells whether Heat
itself deleted the server (an update or a scale-in is then running), since
the notification does not say who asked.
"""

from __future__ import annotations

from typing import Any, Optional

from vitrage_selfheal.datasources.heat.unit.properties import UnitProps as P

SERVER_MISSING = "SERVER_MISSING"
DELETE_EVENTS = ("compute.instance.delete.end", "instance.delete.end")


def deleted_server(event: dict) -> Optional[str]:
    """Server id of a legacy or versioned Nova delete notification."""
    if event.get("instance_id"):
        return str(event["instance_id"])
    data = (event.get("nova_object.data") or {}) if isinstance(
        event.get("nova_object.data"), dict) else {}
    uuid = data.get("uuid")
    return str(uuid) if uuid else None


def settled(state: str) -> bool:
    return state.endswith("_COMPLETE") and state != "DELETE_COMPLETE"


def mark_missing(unit: dict, server_id: str, root_status: Optional[str]
                 ) -> Optional[dict]:
    """The unit's next event, or None when Heat is doing the deleting."""
    if server_id not in unit.get(P.SERVER_IDS, ()):
        return None
    if root_status is None or root_status.endswith("_IN_PROGRESS"):
        return None
    if not settled(unit.get(P.STATE, "")):
        return None
    return _missing(unit, [server_id],
                    f"server {server_id} deleted outside Heat while the "
                    f"stack was {root_status}")


def apply_missing(units: list[dict], existing: set[str]) -> list[dict]:
    """Snapshot path: mark units whose servers Nova no longer lists."""
    out = []
    for unit in units:
        gone = [s for s in unit.get(P.SERVER_IDS, ()) if s not in existing]
        if gone and settled(unit.get(P.STATE, "")):
            unit = _missing(unit, gone,
                            f"server(s) {', '.join(gone)} not found in Nova")
        out.append(unit)
    return out


def _missing(unit: dict, gone: list[str], reason: str) -> dict:
    changed = dict(unit)
    changed[P.STATE] = SERVER_MISSING
    changed[P.STATE_REASON] = reason
    changed[P.SERVER_IDS] = [s for s in unit[P.SERVER_IDS] if s not in gone]
    return changed


def existing_servers(conn: Any) -> set[str]:
    """Every server id Nova lists (all projects); raises what Nova raised,
    for the caller to count and log."""
    return {s.id for s in conn.compute.servers(all_projects=True)}
