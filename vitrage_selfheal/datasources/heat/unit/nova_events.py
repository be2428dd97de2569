"""The Nova side of the heat.unit driver: a unit's servers deleted, gone
to ERROR or stopped outside Heat, or serving again (server_loss.py holds
the rules). A mixin of HeatUnitDriver: it works on the driver's caches,
under its lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from vitrage_selfheal.datasources.heat.unit import server_loss as sl
from vitrage_selfheal.datasources.heat.unit.properties import UnitProps as P
from vitrage_selfheal.datasources.heat.unit.properties import unit_id


class NovaEvents:
    # The driver's: root stack id -> {unit id: last event}, the project
    # of each root, reads of Heat and the re-read of a root.
    _units: dict[str, dict[str, dict]]
    _projects: dict[str, str]
    # server id -> root stack ids with a unit that has it: Nova sends an
    # update for every state change of every server in the cloud.
    _server_roots: dict[str, set[str]]

    def _on_server_deleted(self, server_id: str) -> list[dict]:
        return self._mark(server_id, lambda unit, status: sl.mark_missing(
            unit, server_id, status))

    def _on_server_state(self, server_id: str, state: str) -> list[dict]:
        if sl.broken_state(state) is not None:
            return self._mark(server_id, lambda unit, status: sl.mark_state(
                unit, server_id, state, status))
        # Serving again (e.g. started, or rebooted by a ladder step): the
        # unit's stack is re-read, Heat and Nova say what it is now.
        events: list[dict] = []
        for root_id in {root for root, unit in self._owners(server_id)
                        if sl.has_lost(unit, server_id)}:
            root = self._stack(root_id)
            if root is None:
                events += self._forget(root_id)
                continue
            root["project_id"] = self._projects.get(root_id) or \
                root["project_id"]
            events += self._refresh(root, only_changed=True)
        return events

    def _owners(self, server_id: str) -> list[tuple[str, dict]]:
        """(root id, unit) of each unit that has the server."""
        return [(root_id, unit)
                for root_id in sorted(self._server_roots.get(server_id, ()))
                for unit in self._units.get(root_id, {}).values()
                if server_id in unit.get(P.SERVER_IDS, ())]

    def _index_servers(self, root_id: str, old: dict[str, dict],
                       new: dict[str, dict]) -> None:
        """Keep _server_roots true after a root's units went from `old`
        to `new` (empty: the root is forgotten)."""
        for unit in old.values():
            for server in unit.get(P.SERVER_IDS, ()):
                roots = self._server_roots.get(server)
                if roots is not None:
                    roots.discard(root_id)
                    if not roots:
                        del self._server_roots[server]
        for unit in new.values():
            for server in unit.get(P.SERVER_IDS, ()):
                self._server_roots.setdefault(server, set()).add(root_id)

    def _mark(self, server_id: str,
              change: Callable[[dict, Optional[str]], Optional[dict]]
              ) -> list[dict]:
        """The owners of `server_id` as `change` makes them; one read of
        each root stack's status."""
        events = []
        status: dict[str, Optional[str]] = {}
        for root_id, unit in self._owners(server_id):
            if root_id not in status:
                root = self._stack(root_id)
                status[root_id] = root and root["status"]
            changed = change(unit, status[root_id])
            if changed is not None:
                self._units[root_id][unit_id(changed)] = changed
                events.append(dict(changed))
        return events

    def _existing_servers(self, root_id: str) -> Optional[dict[str, str]]:
        try:
            return sl.existing_servers(self.conn)
        except Exception as exc:
            self._read_failed(
                "listing Nova servers (all projects)", exc,
                f"servers deleted outside Heat not detected in stack "
                f"{root_id}")
            return None

