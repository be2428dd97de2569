"""heat.unit driver: reads the members of Heat groups through openstacksdk.

I/O only; the graph mapping is the transformer's. A snapshot walks every
root stack: resources of a type in `group_types` are groups (found at any
nesting depth), the resources of a group's nested stack are its units, and
the Nova servers of a unit are the unit itself (OS::Nova::Server) or the
servers found in its nested stack. A Heat notification re-reads the root
stack it concerns.

openstacksdk drops query parameters its resource classes do not declare
(`nested_depth` on resource lists, `global_tenant` on stack lists), so
nested stacks are walked through their physical ids and the all-projects
listing is a plain GET.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Optional

from oslo_config import cfg
from vitrage.common.constants import DatasourceAction, GraphAction
from vitrage.common.constants import DatasourceProperties as DSProps
from vitrage.datasources.driver_base import DriverBase

from vitrage_selfheal import events as lifecycle
from vitrage_selfheal import metrics
from vitrage_selfheal.datasources.heat.unit import (
    DEFAULT_GROUP_TYPES,
    HEAT_UNIT_DATASOURCE,
)
from vitrage_selfheal.datasources.heat.unit import heal_state as hs
from vitrage_selfheal.datasources.heat.unit import server_loss as sl
from vitrage_selfheal.datasources.heat.unit.heal_events import HealEvents
from vitrage_selfheal.datasources.heat.unit.nova_events import NovaEvents
from vitrage_selfheal.datasources.heat.unit.properties import (
    HeatTypes,
    unit_id,
)
from vitrage_selfheal.datasources.heat.unit.properties import UnitProps as P
from vitrage_selfheal.model import Unit, controls_from_tags

LOG = logging.getLogger(__name__)

STACK_DELETE_END = "orchestration.stack.delete.end"
# `.start` is left out: the matching `.end`/`.error` always follows.
EVENT_TYPES = [
    f"orchestration.stack.{action}.{phase}"
    for action in ("create", "update", "delete", "check", "rollback",
                   "suspend", "resume", "adopt", "restore")
    for phase in ("end", "error")
] + ["orchestration.autoscaling.end", "orchestration.autoscaling.error",
      *sl.DELETE_EVENTS, *sl.UPDATE_EVENTS, *lifecycle.EVENT_TYPES]


# Every Heat or Nova read that failed; the ERROR line says which.
READ_ERRORS = "datasource.heat_unit.read_errors"


class HeatReadError(Exception):
    """Heat answered a read with an error status."""


def _conf_value(name: str, default: Any) -> Any:
    try:
        return cfg.CONF[HEAT_UNIT_DATASOURCE][name]
    except (cfg.Error, KeyError):
        # Built outside Vitrage's loader (tests, tools): no [heat.unit].
        return default


def default_connection() -> Any:
    """An openstacksdk Connection, imported lazily: it is slow to load.

    `[heat.unit] cloud` / `heat_endpoint` select clouds.yaml / OS_* (as
    vitrage_selfheal.clients does); otherwise Vitrage's own
    `[service_credentials]`, the credentials its heat.stack driver uses.
    """
    import openstack

    kwargs = {}
    endpoint = _conf_value("heat_endpoint", "")
    if endpoint:
        kwargs["orchestration_endpoint_override"] = endpoint
    cloud = _conf_value("cloud", "")
    if cloud or endpoint:
        return openstack.connect(cloud=cloud or None, **kwargs)
    from vitrage import keystone_client

    creds = cfg.CONF.service_credentials
    return openstack.connection.Connection(
        session=keystone_client.get_session(),
        region_name=creds.region_name, interface=creds.interface, **kwargs)


def _field(obj: Any, *names: str) -> Any:
    """First non-empty of `names`; reads dicts (raw JSON) and sdk objects."""
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(
            obj, name, None)
        if value:
            return value
    return None


def _stack_id_of(payload: dict) -> Optional[str]:
    identity = _field(payload, "stack_identity", "stack_id", "id")
    if not isinstance(identity, str):
        return None
    # An ARN ("arn:openstack:heat::<tenant>:stacks/<name>/<id>") ends in
    # the id; a bare id has no slash.
    return identity.rstrip("/").rsplit("/", 1)[-1]


def _is_nested(resource: Any) -> bool:
    links = _field(resource, "links") or ()
    if any(isinstance(link, dict) and link.get("rel") == "nested"
           for link in links):
        return True
    rtype = _field(resource, "resource_type") or ""
    return (rtype in HeatTypes.NESTED
            or rtype.endswith(HeatTypes.TEMPLATE_SUFFIXES))


class _Walk:
    """What one read of a root stack found."""

    def __init__(self, root: dict) -> None:
        self.root = root
        self.units: list[dict] = []
        self.stacks: set[str] = {root["id"]}


class HeatUnitDriver(NovaEvents, HealEvents, DriverBase):
    # Vitrage sets this when it loads the driver; set here too so events
    # of a driver built directly still name their datasource.
    _datasource_name = HEAT_UNIT_DATASOURCE

    def __init__(self, conn: Optional[Any] = None,
                 heal_state: Optional[Callable[[str], str]] = None,
                 group_types: Optional[list[str]] = None,
                 nested_depth: Optional[int] = None,
                 all_projects: Optional[bool] = None,
                 counters: Optional[metrics.Counters] = None) -> None:
        super().__init__()
        self._conn = conn
        # Vitrage builds drivers without arguments: the process's registry.
        self._counters = counters or metrics.default()
        self._heal_state = heal_state
        self._group_types = frozenset(
            group_types if group_types is not None
            else _conf_value("group_types", DEFAULT_GROUP_TYPES))
        self._depth = (nested_depth if nested_depth is not None
                       else _conf_value("nested_depth", 5))
        self._all_projects = (all_projects if all_projects is not None
                              else _conf_value("all_projects", True))
        # Snapshot thread and notification listener share the caches.
        self._lock = threading.Lock()
        # root stack id -> {unit id: last event}: what a re-read diffs to.
        self._units: dict[str, dict[str, dict]] = {}
        # any stack id seen under a root (nested ones too) -> root id.
        self._roots: dict[str, str] = {}
        # root stack id -> project, as last read.
        self._projects: dict[str, str] = {}
        self._server_roots: dict[str, set[str]] = {}

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = default_connection()
        return self._conn

    @property
    def heal_state(self) -> Callable[[str], str]:
        if self._heal_state is None:
            self._heal_state = hs.from_url(_conf_value("ledger_url", ""),
                                           _conf_value("healed_for", 300))
        return self._heal_state

    # -- Vitrage driver interface -------------------------------------------
    @staticmethod
    def get_event_types() -> list[str]:
        return list(EVENT_TYPES)

    @staticmethod
    def should_delete_outdated_entities() -> bool:
        # A unit missing from a full snapshot is gone.
        return True

    def get_all(self, datasource_action: str) -> list[dict]:
        return self.make_pickleable(self._read_all(only_changed=False),
                                    HEAT_UNIT_DATASOURCE, datasource_action)

    def get_changes(self, datasource_action: str) -> list[dict]:
        return self.make_pickleable(self._read_all(only_changed=True),
                                    HEAT_UNIT_DATASOURCE, datasource_action)

    def enrich_event(self, event: dict, event_type: str) -> list[dict]:
        """Units of the root stack the notification is about, re-read;
        for a Nova delete or state change, the units of that server."""
        server_id = stack_id = None
        update = None
        if event_type in lifecycle.EVENT_TYPES:
            with self._lock:
                events = self._on_heal_event(event)
            return self.make_pickleable(events, HEAT_UNIT_DATASOURCE,
                                        DatasourceAction.UPDATE)
        if event_type in sl.DELETE_EVENTS:
            server_id = sl.deleted_server(event)
        elif event_type in sl.UPDATE_EVENTS:
            update = sl.server_state(event)
            server_id = update[0] if update else None
        else:
            stack_id = _stack_id_of(event)
        if not (stack_id or server_id):
            return []
        try:
            with self._lock:
                if update is not None:
                    events = self._on_server_state(*update)
                elif server_id:
                    events = self._on_server_deleted(server_id)
                else:
                    events = self._on_stack_event(
                        stack_id, event_type, _field(event, "tenant_id"))
        except Exception:
            # Raising here would also lose the other drivers' events.
            self._counters.inc(READ_ERRORS)
            LOG.exception("heat.unit: %s for %s not handled", event_type,
                          f"server {server_id}" if server_id
                          else f"stack {stack_id}")
            return []
        return self.make_pickleable(events, HEAT_UNIT_DATASOURCE,
                                    DatasourceAction.UPDATE)

    # -- reading -------------------------------------------------------------
    def _read_all(self, only_changed: bool) -> list[dict]:
        with self._lock:
            events: list[dict] = []
            try:
                roots = self._root_stacks()
            except Exception as exc:
                # Raised on, so that Vitrage aborts this snapshot and
                # deletes no unit as outdated.
                self._read_failed(
                    "listing the root stacks"
                    + (" of all projects" if self._all_projects else ""),
                    exc, "no unit updated")
                raise
            for stack in roots:
                events += self._refresh(stack, only_changed)
            for gone in set(self._units) - {s["id"] for s in roots}:
                events += self._forget(gone)
            return events

    def _on_stack_event(self, stack_id: str, event_type: str,
                        project: Optional[str]) -> list[dict]:
        if event_type == STACK_DELETE_END and stack_id in self._units:
            return self._forget(stack_id)
        root_id = self._root_of(stack_id)
        if root_id is None:
            return []
        root = self._stack(root_id)
        if root is None or root["status"] == "DELETE_COMPLETE":
            return self._forget(root_id)
        if root_id != stack_id and (root["status"] or "").endswith(
                "IN_PROGRESS"):
            # The root's own .end/.error follows; re-reading on every
            # nested stack of a big create or update would be wasted.
            return []
        # A stack shown by id carries no project; the notification does.
        root["project_id"] = (project or self._projects.get(root_id)
                              or root["project_id"])
        # Only what changed: a heal's update.end re-read all 50 units of
        # a group to change one, and each unchanged unit still cost the
        # processor and the evaluator an update. Snapshots send all.
        return self._refresh(root, only_changed=True)

    def _root_stacks(self) -> list[dict]:
        orch = self.conn.orchestration
        if self._all_projects:
            resp = orch.get("/stacks", params={"global_tenant": True})
            if resp.status_code >= 400:
                raise HeatReadError(
                    f"GET /stacks?global_tenant: HTTP {resp.status_code}")
            listed = resp.json().get("stacks", [])
        else:
            listed = list(orch.stacks())
        stacks = [self._stack_info(s) for s in listed]
        return [s for s in stacks if not s["parent"]]

    def _stack(self, stack_id: str) -> Optional[dict]:
        found = self.conn.orchestration.find_stack(
            stack_id, ignore_missing=True, resolve_outputs=False)
        return None if found is None else self._stack_info(found)

    def _stack_info(self, stack: Any) -> dict:
        # Heat's listing names the project; a stack shown by id (sdk
        # object) does not: then assume the connection's own project.
        project = _field(stack, "project") or getattr(
            self.conn, "current_project_id", None)
        return {"id": _field(stack, "id"),
                "name": _field(stack, "stack_name", "name") or "",
                "parent": _field(stack, "parent", "parent_id"),
                "status": _field(stack, "stack_status", "status"),
                "project_id": project or "",
                "controls": controls_from_tags(_field(stack, "tags"))}

    def _root_of(self, stack_id: str) -> Optional[str]:
        if stack_id in self._units:
            return stack_id
        if stack_id in self._roots:
            return self._roots[stack_id]
        current = stack_id
        for _ in range(self._depth + 1):
            stack = self._stack(current)
            if stack is None:
                return None
            if not stack["parent"]:
                return stack["id"]
            current = stack["parent"]
        return None

    def _resources(self, stack_id: str) -> list[Any]:
        return list(self.conn.orchestration.resources(stack_id))

    def _refresh(self, root: dict, only_changed: bool) -> list[dict]:
        root_id = root["id"]
        old = self._units.get(root_id, {})
        try:
            walk = _Walk(root)
            self._scan(walk, root_id, depth=0)
        except Exception as exc:
            # Re-sent unchanged so the snapshot does not delete them as
            # outdated over a passing Heat error.
            self._read_failed(f"reading root stack {root_id}", exc,
                              f"keeping its {len(old)} units as last read")
            return [] if only_changed else [dict(e) for e in old.values()]
        existing = self._existing_servers(root_id)
        if existing is not None:
            walk.units = sl.apply_missing(walk.units, existing)
        new = {unit_id(e): e for e in walk.units}
        events = [dict(e) for uid, e in new.items()
                  if not only_changed or old.get(uid) != e]
        events += [deletion_event(e) for uid, e in old.items()
                   if uid not in new]
        self._forget_stacks(root_id)
        self._index_servers(root_id, old, new)
        self._units[root_id] = {uid: dict(e) for uid, e in new.items()}
        self._projects[root_id] = root["project_id"]
        self._roots.update(dict.fromkeys(walk.stacks, root_id))
        return events

    def _read_failed(self, what: str, exc: Exception,
                     consequence: str) -> None:
        # ERROR, not WARNING: while reads fail, broken units go unseen.
        self._counters.inc(READ_ERRORS)
        LOG.error("heat.unit: %s failed (%s: %s); %s", what,
                  type(exc).__name__, exc, consequence)

    def _forget(self, root_id: str) -> list[dict]:
        old = self._units.pop(root_id, {})
        self._index_servers(root_id, old, {})
        self._projects.pop(root_id, None)
        self._forget_stacks(root_id)
        return [deletion_event(e) for e in old.values()]

    def _forget_stacks(self, root_id: str) -> None:
        for sid in [s for s, r in self._roots.items() if r == root_id]:
            del self._roots[sid]

    def _scan(self, walk: _Walk, stack_id: str, depth: int) -> list[str]:
        """Server ids under `stack_id`; units of the groups met on the way."""
        walk.stacks.add(stack_id)
        servers: list[str] = []
        for res in self._resources(stack_id):
            rtype = _field(res, "resource_type")
            physical = _field(res, "physical_resource_id")
            if not physical:
                continue
            if rtype == HeatTypes.SERVER:
                servers.append(physical)
            elif depth >= self._depth:
                continue
            elif rtype in self._group_types:
                servers += self._read_group(walk, res, depth + 1)
            elif _is_nested(res):
                servers += self._scan(walk, physical, depth + 1)
        return servers

    def _read_group(self, walk: _Walk, group: Any, depth: int) -> list[str]:
        group_stack = _field(group, "physical_resource_id")
        walk.stacks.add(group_stack)
        members = self._resources(group_stack)
        servers: list[str] = []
        for member in members:
            physical = _field(member, "physical_resource_id")
            if _field(member, "resource_type") == HeatTypes.SERVER:
                inside = [physical] if physical else []
            elif physical and depth < self._depth and _is_nested(member):
                inside = self._scan(walk, physical, depth + 1)
            else:
                inside = []
            servers += inside
            walk.units.append(self._unit_event(
                walk.root, group, group_stack, len(members), member, inside))
        return servers

    def _unit_event(self, root: dict, group: Any, group_stack: str,
                    size: int, member: Any, servers: list[str]) -> dict:
        name = _field(member, "name", "resource_name")
        group_name = _field(group, "name", "resource_name") or ""
        return {
            P.ROOT_STACK_ID: root["id"],
            P.STACK_ID: group_stack,
            P.RESOURCE_NAME: name,
            P.RESOURCE_TYPE: _field(member, "resource_type") or "",
            P.PHYSICAL_ID: _field(member, "physical_resource_id") or "",
            P.GROUP: group_stack,
            P.GROUP_NAME: group_name,
            P.GROUP_SIZE: size,
            P.STATE: _field(member, "status", "resource_status") or "",
            P.STATE_REASON: _field(member, "status_reason",
                                   "resource_status_reason") or "",
            P.SERVER_IDS: list(servers),
            P.PROJECT_ID: root["project_id"],
            P.NAME: "/".join((root["name"], group_name, name)),
            P.HEAL_STATE: self.heal_state(Unit(root["id"], group_stack,
                                               name).key),
            P.CONTROLS: root.get("controls", ""),
        }


def deletion_event(event: dict) -> dict:
    deleted = dict(event)
    deleted[DSProps.EVENT_TYPE] = GraphAction.DELETE_ENTITY
    return deleted
