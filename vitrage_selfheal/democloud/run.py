"""`vitrage-selfheal demo --cloud`: the demo against a real local OpenStack.

Keystone, Nova (fake virt driver), Heat and Mistral run on this machine
(tools/devcloud). The embedded Vitrage engine takes Nova's and Heat's
notifications off RabbitMQ; the plugin decides and starts the shipped heal
workflow in Mistral; Heat replaces the unit. Each fault is timed from
injection to UPDATE_COMPLETE and checked.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Optional, TextIO

from vitrage_selfheal import paths
from vitrage_selfheal.cli.output import table
from vitrage_selfheal.model import Decision, Reason, Unit
from vitrage_selfheal.names import HEAT_UNIT_DATASOURCE

HERE = pathlib.Path(__file__).resolve().parent
STACK_NAME = "selfheal-demo"
WAIT = 300.0


class DemoError(Exception):
    pass


# How heal_fault breaks a server out of band.
_VERBS = {"delete": "deleting", "error": "resetting to ERROR",
          "stop": "stopping"}


@dataclasses.dataclass
class Timeline:
    fault: str
    injected: float
    detected: Optional[float] = None
    decided: Optional[float] = None
    dispatched: Optional[float] = None
    completed: Optional[float] = None
    executions: int = 0
    heat: Optional[float] = None    # update_root start -> wait_update end

    HEADERS = ("fault", "detection+decision", "coalescing", "Mistral",
               "Heat update", "total", "executions")

    def row(self) -> list[str]:
        def since(t: Optional[float], t0: Optional[float]) -> str:
            return "-" if t is None or t0 is None else f"{t - t0:.1f}s"
        mistral = "-"
        if self.completed and self.dispatched and self.heat is not None:
            mistral = f"{self.completed - self.dispatched - self.heat:.1f}s"
        return [self.fault, since(self.decided, self.injected),
                since(self.dispatched, self.decided), mistral,
                "-" if self.heat is None else f"{self.heat:.1f}s",
                since(self.completed, self.injected), str(self.executions)]


class Recorder:
    """Decisions and deduced alarms with wall-clock times, thread-safe."""

    def __init__(self) -> None:
        self.decisions: list[tuple[float, Decision]] = []
        self.lock = threading.Lock()

    def __call__(self, decision: Decision) -> None:
        with self.lock:
            self.decisions.append((time.time(), decision))

    def first(self, since: float, reason: Reason,
              unit: Optional[str] = None,
              stack: Optional[str] = None) -> Optional[float]:
        with self.lock:
            for at, d in self.decisions:
                if at >= since and d.reason is reason and (
                        unit is None or d.unit_key == unit) and (
                        stack is None or d.root_stack_id == stack):
                    return at
        return None

    def count(self, since: float, reason: Reason) -> int:
        with self.lock:
            return sum(1 for at, d in self.decisions
                       if at >= since and d.reason is reason)


def wait_for(what: str, check: Callable[[], Any],
             timeout: float = WAIT, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")


def physical_ids(conn: Any, units: Iterable[Unit]) -> dict[str, tuple]:
    """unit key -> (physical id, status) as Heat has it now."""
    units = list(units)
    ids = {}
    for stack_id in sorted({u.stack_id for u in units}):
        for res in conn.orchestration.resources(stack_id):
            ids[stack_id, res.name] = (res.physical_resource_id, res.status)
    return {u.key: ids.get((u.stack_id, u.resource_name), (None, None))
            for u in units}


class CloudDemo:
    def __init__(self, workdir: pathlib.Path, clouds_yaml: pathlib.Path,
                 transport_url: str, cloud: str = "devcloud",
                 out: Optional[TextIO] = None,
                 snapshot_interval: int = 10,
                 extra_datasources: tuple[str, ...] = (),
                 cluster_template: tuple[pathlib.Path, pathlib.Path] = (
                     HERE / "cluster.yaml", HERE / "unit.yaml"),
                 cluster_parameters: Optional[dict[str, Any]] = None,
                 conf_extra: str = "") -> None:
        self.workdir = workdir
        # The root template and the unit template its group is made of
        # (given to Heat under the unit file's name).
        self.cluster_template = cluster_template
        self.cluster_parameters = dict(cluster_parameters or {})
        # More selfheal.conf sections, appended as given.
        self.conf_extra = conf_extra
        # e.g. "aodh": Vitrage's own datasource, fed by Aodh's alarm
        # notifications and its API at snapshots.
        self.extra_datasources = extra_datasources
        self.cloud = cloud
        # Vitrage's periodic re-read of every datasource; faults are seen
        # from notifications long before it (60 s is Vitrage's default).
        self.snapshot_interval = snapshot_interval
        self.transport_url = transport_url
        self.out = out
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds_yaml)
        self.recorder = Recorder()
        self.failures: list[str] = []
        self.timelines: list[Timeline] = []
        self.members: dict[str, Unit] = {}
        # Units 0-2 take faults 1-3; unit 3 dies in act 4, after which the
        # group has grown by one.
        self.size = 4

    def say(self, text: str) -> None:
        if self.out is not None:
            self.out.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
            self.out.flush()

    # -- set-up ------------------------------------------------------------
    def setup(self) -> None:
        import openstack

        from vitrage_selfheal.app import App, load_config
        from vitrage_selfheal.dispatch.mistral import install_workflows

        # A fresh ledger: the demo's checks count this run's decisions.
        paths.fresh_workdir(self.workdir)
        self.conn = openstack.connect(cloud=self.cloud)
        conf_file = self.workdir / "selfheal.conf"
        conf_file.write_text(
            f"[selfheal]\nstate_path = {self.workdir}\ntick_interval = 0.2\n"
            f"[selfheal_policy]\ncooldown = 300\ncoalesce_window = 2\n"
            # Fault 2 breaks two of the four units at once: allowed, as
            # a count, whatever the group's size when the scale has run.
            f"max_unhealthy = 2\nretry_backoff = 5\n"
            f"[openstack]\ncloud = {self.cloud}\n"
            f"[engine]\ntransport_url = {self.transport_url}\n"
            f"snapshot_interval = {self.snapshot_interval}\n"
            + self.conf_extra)
        self.conf = load_config([str(conf_file)])
        endpoint = self.conn.session.get_endpoint(service_type="workflowv2",
                                                  interface="public")
        names = install_workflows(self.conn.session, endpoint)
        self.say(f"workflows installed into Mistral: {', '.join(names)}")
        self.app = App(self.conf, observer=self.recorder).start()
        self._start_engine()

    def _start_engine(self) -> None:
        from vitrage_selfheal.engine.config import settings_from
        from vitrage_selfheal.engine.embedded import EmbeddedEngine
        from vitrage_selfheal.engine.service import EngineService
        from vitrage_selfheal.events import bus

        auth = self.conn.config.config["auth"]
        settings = settings_from(self.conf, self.workdir / "engine")
        settings.datasource_types = ("nova.host", "nova.instance",
                                     "nova.zone", HEAT_UNIT_DATASOURCE,
                                     "doctor") + self.extra_datasources
        settings.extra["service_credentials"] = {
            "auth_type": "password", "auth_url": auth["auth_url"],
            "username": auth["username"], "password": auth["password"],
            "project_name": auth["project_name"],
            "user_domain_name": auth.get("user_domain_name", "Default"),
            "project_domain_name": auth.get("project_domain_name",
                                            "Default"),
            "region_name": self.conn.config.region_name or "RegionOne",
            "interface": "public"}
        settings.extra[HEAT_UNIT_DATASOURCE]["cloud"] = self.cloud
        # Listing every project's stacks needs Heat's global_index policy,
        # which devcloud's admin lacks; the demo stack is the admin's.
        settings.extra[HEAT_UNIT_DATASOURCE]["all_projects"] = "false"
        self.engine = EmbeddedEngine(settings, sink=self.app,
                                     ingest_conf=self.conf)
        bus.into_engine(self.app, self.engine)
        self.service = EngineService(
            self.engine, snapshot_interval=self.conf.engine.snapshot_interval
        ).start()
        self.say(f"embedded Vitrage engine up: "
                 f"{self.engine.graph.num_vertices()} vertices, listening "
                 f"on RabbitMQ")

    def create_cluster(self) -> None:
        orch = self.conn.orchestration
        for old in orch.stacks():
            if old.name.startswith(STACK_NAME):
                # Left by an earlier run; its deletion runs meanwhile.
                self.say(f"deleting {old.name} from an earlier run")
                orch.delete_stack(old)
        self.stack_name = f"{STACK_NAME}-{time.strftime('%H%M%S')}"
        started = time.time()
        template, unit = self.cluster_template
        stack = orch.create_stack(
            name=self.stack_name, template=template.read_text(),
            files={unit.name: unit.read_text()},
            parameters={"size": self.size, **self.cluster_parameters})
        self.stack_id = stack.id
        wait_for("CREATE_COMPLETE", lambda: self._status() == "CREATE_COMPLETE"
                 or self._failed_create())
        self.say(f"cluster {self.stack_name} CREATE_COMPLETE in "
                 f"{time.time() - started:.1f}s")
        self.units = wait_for(f"{self.size} units in Vitrage's graph",
                              self._graph_units)
        for key, servers in sorted(self.units.items()):
            self.say(f"  unit {key}: server {', '.join(servers)}")

    def _status(self) -> Optional[str]:
        stack = self.conn.orchestration.get_stack(self.stack_id)
        return stack.status

    def _failed_create(self) -> bool:
        if self._status() == "CREATE_FAILED":
            raise DemoError("the demo cluster failed to create; see "
                            "var/devcloud/logs/heat-engine.log")
        return False

    def _graph_units(self) -> dict[str, list[str]]:
        units = {}
        with self.engine.lock:
            for v in self.engine.vertices(vitrage_type=HEAT_UNIT_DATASOURCE,
                                          vitrage_is_deleted=False):
                if v.get("root_stack_id") != self.stack_id:
                    continue
                unit = Unit(self.stack_id, v.get("stack_id"),
                            v.get("resource_name"))
                self.members[unit.key] = unit
                servers = [n.get("id") for n in self.engine.graph.neighbors(
                    v.vertex_id, vertex_attr_filter={
                        "vitrage_type": "nova.instance",
                        "vitrage_is_deleted": False})]
                units[unit.key] = sorted(servers)
        return units if len(units) == self.size and all(units.values()) \
            else {}

    def _physical_ids(self) -> dict[str, tuple]:
        return physical_ids(self.conn, (self.members[k] for k in self.units))

    # -- faults ------------------------------------------------------------
    def heal_fault(self, title: str, victims: list[str],
                   how: str = "delete") -> Timeline:
        """`how` the victims' servers are broken out of band: deleted,
        reset to ERROR, or stopped."""
        before = self._physical_ids()
        self.units = self._graph_units() or self.units
        line = Timeline(title, time.time())
        self.say(f"FAULT: {title}: {_VERBS[how]} the server(s) of "
                 f"{', '.join(victims)} out of band")
        for key in victims:
            for server in self.units[key]:
                self._break(server, how)
        since = line.injected
        line.decided = wait_for("a FIRST_HEAL decision", lambda: all(
            self.recorder.first(since, Reason.FIRST_HEAL, k)
            for k in victims) and max(self.recorder.first(
                since, Reason.FIRST_HEAL, k) for k in victims))
        line.detected = self._deduced_since(since) or line.decided
        line.dispatched = wait_for("BATCH_DISPATCHED", lambda:
                                   self.recorder.first(
                                       since, Reason.BATCH_DISPATCHED))
        done = wait_for("EXECUTION_SUCCEEDED or a failure", lambda: (
            self.recorder.first(since, Reason.EXECUTION_SUCCEEDED)
            or self._failure_since(since)), timeout=600)
        line.completed = done
        line.executions = len({d.batch_id for at, d in
                               self.recorder.decisions if at >= since
                               and d.reason is Reason.BATCH_DISPATCHED})
        line.heat = self._heat_seconds(since)
        self._check_replaced(title, before, victims)
        if line.executions != 1:
            self.failures.append(f"{title}: {line.executions} executions")
        self.say(f"healed in {line.completed - line.injected:.1f}s with "
                 f"{line.executions} execution(s)")
        self.timelines.append(line)
        return line

    def _break(self, server: str, how: str) -> None:
        compute = self.conn.compute
        if how == "delete":
            compute.delete_server(server)
        elif how == "error":
            compute.reset_server_state(server, "error")
        elif how == "stop":
            compute.stop_server(server)
        else:
            raise ValueError(f"unknown fault {how!r}; known: "
                             f"{', '.join(_VERBS)}")

    def _heat_seconds(self, since: float) -> Optional[float]:
        """From Mistral's own task records: the stack update's share."""
        import datetime

        with self.recorder.lock:
            batch = next((d.batch_id for at, d in self.recorder.decisions
                          if at >= since
                          and d.reason is Reason.BATCH_DISPATCHED), None)
        with self.app.healer.ledger.transaction() as tx:
            from vitrage_selfheal.ledger.models import BatchRow
            row = tx.s.get(BatchRow, batch) if batch else None
            execution_id = row.execution_id if row else None
        if not execution_id:
            return None
        endpoint = self.conn.session.get_endpoint(
            service_type="workflowv2", interface="public")
        tasks = self.conn.session.get(
            f"{endpoint}/executions/{execution_id}/tasks").json()["tasks"]
        by_name = {t["name"]: t for t in tasks}

        def stamp(text: str) -> float:
            return datetime.datetime.strptime(
                text, "%Y-%m-%d %H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
        try:
            return (stamp(by_name["wait_update"]["updated_at"])
                    - stamp(by_name["update_root"]["created_at"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _deduced_since(self, since: float) -> Optional[float]:
        # The deduced alarm is handed to the plugin as it is raised: the
        # first decision's time is when it arrived.
        with self.recorder.lock:
            for at, d in self.recorder.decisions:
                if at >= since and d.unit_key:
                    return at
        return None

    def _failure_since(self, since: float) -> Optional[float]:
        for reason in (Reason.EXECUTION_FAILED, Reason.EXECUTION_STUCK,
                       Reason.RETRY_BACKOFF):
            at = self.recorder.first(since, reason, stack=self.stack_id)
            if at:
                raise DemoError(f"the heal failed ({reason.value}); see "
                                f"vitrage-selfheal history")
        return None

    def _check_replaced(self, title: str, before: dict,
                        victims: list[str]) -> None:
        wait_for("UPDATE_COMPLETE", lambda: self._status() in (
            "UPDATE_COMPLETE", "UPDATE_FAILED"))
        after = self._physical_ids()
        for key, (old, _status) in before.items():
            new, status = after[key]
            if status == "CHECK_FAILED":
                self.failures.append(f"{title}: {key} left CHECK_FAILED")
            if key in victims and new == old:
                self.failures.append(f"{title}: {key} was not replaced")
            if key not in victims and new != old:
                self.failures.append(f"{title}: {key} was touched")

    def flapping_fault(self, unit: str) -> Timeline:
        title = "flapping alarm on a healed unit"
        line = Timeline(title, time.time())
        self.units = wait_for("units back in the graph", self._graph_units)
        server = self.units[unit][0]
        self.say(f"FAULT: {title}: server {server} of {unit} to ERROR, "
                 f"back to ACTIVE, ERROR again")
        for state in ("error", "active", "error"):
            self.conn.compute.reset_server_state(server, state)
            if state == "error":
                wait_for("the alarm reaching the plugin", lambda: (
                    self.recorder.first(line.injected, Reason.COOLDOWN,
                                        unit)), timeout=120)
            else:
                time.sleep(self.conf.engine.snapshot_interval + 2)
        line.detected = line.decided = self.recorder.first(
            line.injected, Reason.COOLDOWN, unit)
        line.executions = self.recorder.count(line.injected,
                                              Reason.BATCH_DISPATCHED)
        if line.executions:
            self.failures.append(f"{title}: {line.executions} heal(s)")
        self.conn.compute.reset_server_state(server, "active")
        self.say(f"held by COOLDOWN, {line.executions} execution(s)")
        self.timelines.append(line)
        return line

    def scale_fault(self, dying: str) -> Timeline:
        """Act 4: the group is scaled out and a unit dies while Heat runs
        the scale. Both settle, one operation after the other."""
        from vitrage_selfheal.model import GroupRef, ScaleRequest

        title = "scale-out, a unit dies during it"
        before = self._physical_ids()
        group = self.members[dying].stack_id
        line = Timeline(title, time.time())
        since = line.injected
        # Aodh and Gnocchi are not in the local cloud yet: the operator's
        # request stands for the load alarm; the same queue takes both.
        self.say(f"FAULT: {title}: load rises, scale out by 1 "
                 f"(vitrage-selfheal scale); then {dying}'s server goes "
                 f"ERROR")
        self.app.healer.scale(ScaleRequest(
            group=GroupRef(self.stack_id, group), delta=1, source="demo",
            manual=True, detail="load rises"))
        wait_for("the scale dispatched", lambda: self.recorder.first(
            since, Reason.BATCH_DISPATCHED))
        wait_for("the stack updating", lambda: self._status() ==
                 "UPDATE_IN_PROGRESS" or self.recorder.first(
                     since, Reason.SCALE_SUCCEEDED), every=0.2)
        server = self.units[dying][0]
        self.conn.compute.reset_server_state(server, "error")
        line.decided = wait_for("a FIRST_HEAL decision", lambda:
                                self.recorder.first(since, Reason.FIRST_HEAL,
                                                    dying), timeout=120)
        line.detected = line.decided
        scaled = wait_for("SCALE_SUCCEEDED", lambda: self.recorder.first(
            since, Reason.SCALE_SUCCEEDED) or self._failure_since(since),
            timeout=600)
        healed = wait_for("the unit healed", lambda: self.recorder.first(
            since, Reason.EXECUTION_SUCCEEDED, dying)
            or self._failure_since(since), timeout=600)
        line.completed = healed
        with self.recorder.lock:
            starts = sorted(at for at, d in self.recorder.decisions
                            if at >= since and d.reason is
                            Reason.BATCH_DISPATCHED and not d.unit_key)
            heal_start = min((at for at, d in self.recorder.decisions
                              if at >= since and d.unit_key == dying and
                              d.reason is Reason.BATCH_DISPATCHED),
                             default=None)
            line.executions = len({d.batch_id for at, d in
                                   self.recorder.decisions if at >= since
                                   and d.reason is Reason.BATCH_DISPATCHED})
        line.dispatched = heal_start
        if heal_start is None or heal_start < scaled:
            self.failures.append(f"{title}: the heal started before the "
                                 f"scale settled")
        if line.executions != 2 or len(starts) != 1:
            self.failures.append(f"{title}: {line.executions} executions "
                                 f"(expected a scale, then a heal)")
        wait_for("UPDATE_COMPLETE", lambda: self._status() in (
            "UPDATE_COMPLETE", "UPDATE_FAILED"))
        after = self._physical_ids()
        for key, (old, _status) in before.items():
            new = after[key][0]
            if key == dying and new == old:
                self.failures.append(f"{title}: {key} was not replaced")
            if key != dying and new != old:
                self.failures.append(f"{title}: {key} was touched")
        size = len(list(self.conn.orchestration.resources(group)))
        if size != self.size + 1:
            self.failures.append(f"{title}: group at {size}, expected "
                                 f"{self.size + 1}")
        self.say(f"scaled to {size} and healed {dying} in "
                 f"{line.completed - line.injected:.1f}s, "
                 f"{line.executions} operation(s), one after the other")
        self.timelines.append(line)
        return line

    # -- the whole demo ----------------------------------------------------
    def run(self) -> int:
        self.setup()
        try:
            self.create_cluster()
            keys = sorted(self.units)
            self.heal_fault("server deleted out of band", [keys[0]])
            self.heal_fault("two units fail within the coalescing window",
                            keys[1:3])
            self.flapping_fault(keys[0])
            self.scale_fault(keys[3])
        finally:
            self.service.stop()
            self.app.stop()
        if self.out is not None:
            self.out.write("\n")
            table(Timeline.HEADERS, [t.row() for t in self.timelines],
                  out=self.out)
        if self.failures:
            self.say("FAILED: " + "; ".join(self.failures))
            return 1
        self.say("all checks held")
        return 0
