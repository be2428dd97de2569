"""A real cluster stack for the cloud tests (the demo's templates), and
the healer the tests drive against the real Heat and Mistral."""

from __future__ import annotations

import pathlib
import uuid
from typing import Any, Optional

from vitrage_selfheal import clients
from vitrage_selfheal.clock import SystemClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.democloud.run import HERE, wait_for
from vitrage_selfheal.dispatch.base import ExecState, Execution
from vitrage_selfheal.dispatch.heat_groups import HeatGroups
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import HealRequest, Unit


def cloud_healer(conn: Any, dispatcher: Any, tmp_path: pathlib.Path,
                 policy: Policy, groups: bool = False) -> Healer:
    """A healer on a fresh SQLite ledger (tmp_path/ledger.db) and file
    locks, reading the real Heat (and its groups, if asked) and starting
    executions through `dispatcher`; reads an execution every second."""
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    ledger.upgrade()
    return Healer(ledger, Locks(f"file://{tmp_path}/locks", "t"), dispatcher,
                  clients.HeatStatus(conn), policy, SystemClock(),
                  counters=Counters(),
                  groups=HeatGroups(conn) if groups else None,
                  follow_interval=1.0)


def heal_request(unit: Unit, alarm: str = "t",
                 name: str = "selfheal.heal: server lost") -> HealRequest:
    return HealRequest(unit=unit, alarm_key=f"{alarm}@{unit.key}",
                       alarm_name=name)


class Cluster:
    """`wait=False` only posts the create: several clusters then build side
    by side, each finished with `wait_created`."""

    def __init__(self, conn: Any, size: int = 3,
                 template: Optional[str] = None,
                 parameters: Optional[dict[str, Any]] = None,
                 wait: bool = True,
                 tags: Optional[list[str]] = None) -> None:
        self.conn = conn
        self.size = size
        self.name = f"selfheal-test-{uuid.uuid4().hex[:8]}"
        stack = conn.orchestration.create_stack(
            name=self.name,
            template=template or (HERE / "cluster.yaml").read_text(),
            files={"unit.yaml": (HERE / "unit.yaml").read_text()},
            parameters={"size": size, **(parameters or {})},
            # Heat's API splits a comma string (a list is a 400).
            **({"tags": ",".join(tags)} if tags else {}))
        self.id = stack.id
        self.group_stack = ""
        if wait:
            self.wait_created()

    def wait_created(self, timeout: float = 300) -> Cluster:
        wait_for("CREATE_COMPLETE", lambda: self._done("CREATE"),
                 timeout=timeout)
        group = [r for r in self.conn.orchestration.resources(self.id)
                 if r.resource_type == "OS::Heat::AutoScalingGroup"][0]
        self.group_stack = group.physical_resource_id
        return self

    def _done(self, action: str) -> bool:
        stack = self.conn.orchestration.get_stack(self.id)
        # The reason names the resource and Nova's or Heat's answer: the
        # status alone makes a failed run undiagnosable.
        assert stack.status != f"{action}_FAILED", \
            f"{stack.status}: {stack.status_reason}"
        return stack.status == f"{action}_COMPLETE"

    def status(self) -> str:
        return self.conn.orchestration.get_stack(self.id).status

    def members(self) -> dict[str, tuple[str, str]]:
        """resource name -> (physical id, status) in the group stack."""
        return {r.name: (r.physical_resource_id, r.status)
                for r in self.conn.orchestration.resources(self.group_stack)}

    def unit(self, name: str) -> Unit:
        members = self.members()
        physical, _ = members[name]
        # The size, as Vitrage's heat.unit vertex carries it: the storm
        # guard's percentages need it.
        return Unit(root_stack_id=self.id, stack_id=self.group_stack,
                    resource_name=name, physical_id=physical,
                    group=self.group_stack, group_size=len(members))

    def delete(self, timeout: float = 180) -> None:
        """Deleted and gone: the project's instance quota (10) is shared
        by every test's cluster, and the demo's."""
        self.conn.orchestration.delete_stack(self.id)
        wait_for(f"stack {self.name} deleted", lambda: (
            lambda s: s is None or s.status == "DELETE_COMPLETE")(
                self.conn.orchestration.find_stack(self.id,
                                                   ignore_missing=True)),
            timeout=timeout, every=1)


def finish(dispatcher: Any, execution_id: str,
           timeout: float = 300) -> Execution:
    return wait_for(f"execution {execution_id} to finish", lambda: (
        lambda e: e if e.state in (ExecState.SUCCESS, ExecState.ERROR)
        else None)(dispatcher.get(execution_id)), timeout=timeout, every=1)
