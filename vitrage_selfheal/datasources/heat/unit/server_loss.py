"""Units whose server was lost outside Heat: SERVER_MISSING (deleted),
SERVER_ERROR, SERVER_STOPPED.

Heat does not notice an out-of-band `server delete`, a server gone to
ERROR or one stopped: the member stays *_COMPLETE and no orchestration
notification is sent. Nova's notifications are the signal: a delete, and
the instance updates it sends on every state change (Vitrage's own Nova
driver takes no legacy `compute.instance.update`, so without this an ERROR
is seen only at its next snapshot). The root stack's status tells whether
Heat itself is acting on the server (an update or a scale-in is then
running), since the notification does not say who asked. The periodic
snapshot reads the same from Nova's server list.
"""

from __future__ import annotations

from typing import Any, Optional

from vitrage_selfheal.datasources.heat.unit.properties import UnitProps as P

SERVER_MISSING = "SERVER_MISSING"
SERVER_ERROR = "SERVER_ERROR"
SERVER_STOPPED = "SERVER_STOPPED"
# A unit in one of these states lost a server; the others are Heat's.
LOST_STATES = frozenset({SERVER_MISSING, SERVER_ERROR, SERVER_STOPPED})
DELETE_EVENTS = ("compute.instance.delete.end", "instance.delete.end")
# Sent on every vm_state / task_state change with
# notify_on_state_change = vm_and_task_state; power_off.end also comes
# without it.
UPDATE_EVENTS = ("compute.instance.update", "instance.update",
                 "compute.instance.power_off.end", "instance.power_off.end")
# Nova's vm_state (notifications) and API status (server list) of a
# server that no longer serves. SHELVED, SUSPENDED and PAUSED are
# deliberate operator actions and are left alone.
_BROKEN = {"error": SERVER_ERROR, "stopped": SERVER_STOPPED,
           "ERROR": SERVER_ERROR, "SHUTOFF": SERVER_STOPPED}


def deleted_server(event: dict) -> Optional[str]:
    """Server id of a legacy or versioned Nova delete notification."""
    if event.get("instance_id"):
        return str(event["instance_id"])
    data = (event.get("nova_object.data") or {}) if isinstance(
        event.get("nova_object.data"), dict) else {}
    uuid = data.get("uuid")
    return str(uuid) if uuid else None


def server_state(event: dict) -> Optional[tuple[str, str]]:
    """(server id, vm_state) of a legacy or versioned instance
    notification, or None if it names neither."""
    data = event.get("nova_object.data")
    if isinstance(data, dict):
        ident, state = data.get("uuid"), data.get("state")
    else:
        ident, state = event.get("instance_id"), event.get("state")
    if not ident or not isinstance(state, str):
        return None
    return str(ident), state


def broken_state(nova_state: str) -> Optional[str]:
    """The unit state a server in this Nova state (vm_state or API
    status) gives its unit, or None if it serves."""
    return _BROKEN.get(nova_state)


def settled(state: str) -> bool:
    return state.endswith("_COMPLETE") and state != "DELETE_COMPLETE"


def mark_state(unit: dict, server_id: str, nova_state: str,
               root_status: Optional[str]) -> Optional[dict]:
    """The unit's next event for a state change of one of its servers:
    SERVER_ERROR / SERVER_STOPPED, or None (not its server, Heat is
    acting, nothing changed, or the server serves: recovery is the
    caller's to re-read)."""
    lost = broken_state(nova_state)
    if lost is None or server_id not in unit.get(P.SERVER_IDS, ()):
        return None
    if root_status is None or root_status.endswith("_IN_PROGRESS"):
        return None
    state = unit.get(P.STATE, "")
    # A suspended stack's servers are stopped by Heat, on purpose.
    if not settled(state) or state.startswith("SUSPEND"):
        return None
    return _lost(unit, lost, f"server {server_id} is {nova_state} while the "
                             f"stack was {root_status}")


def has_lost(unit: dict, server_id: str) -> bool:
    """The unit is marked lost, and `server_id` is one of its servers."""
    return unit.get(P.STATE) in LOST_STATES and server_id in unit.get(
        P.SERVER_IDS, ())


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


def apply_missing(units: list[dict], existing: dict[str, str]
                  ) -> list[dict]:
    """Snapshot path: mark units whose servers Nova no longer lists
    (`existing`: server id -> API status), or lists in ERROR or SHUTOFF."""
    out = []
    for unit in units:
        servers = unit.get(P.SERVER_IDS, ())
        gone = [s for s in servers if s not in existing]
        state = unit.get(P.STATE, "")
        if gone and settled(state):
            unit = _missing(unit, gone,
                            f"server(s) {', '.join(gone)} not found in Nova")
        elif settled(state) and not state.startswith("SUSPEND"):
            broken = [(s, existing[s]) for s in servers
                      if broken_state(existing[s])]
            if broken:
                server, status = broken[0]
                unit = _lost(unit, broken_state(status),
                             f"server {server} is {status} in Nova")
        out.append(unit)
    return out


def _missing(unit: dict, gone: list[str], reason: str) -> dict:
    changed = _lost(unit, SERVER_MISSING, reason)
    changed[P.SERVER_IDS] = [s for s in unit[P.SERVER_IDS] if s not in gone]
    return changed


def _lost(unit: dict, state: str, reason: str) -> dict:
    changed = dict(unit)
    changed[P.STATE] = state
    changed[P.STATE_REASON] = reason
    return changed


def existing_servers(conn: Any) -> dict[str, str]:
    """Every server Nova lists (all projects): id -> API status; raises
    what Nova raised, for the caller to count and log."""
    return {s.id: str(getattr(s, "status", "") or "")
            for s in conn.compute.servers(all_projects=True)}
