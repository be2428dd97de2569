"""The escalation ladder and fencing on the real Heat, Mistral and Nova
(fake virt driver).

- A server that stays ERROR: the ladder's reboot (a real hard reboot in
  Nova) does not heal it, so the unit is ESCALATED to replace and Heat
  replaces it; the other member is untouched.
- A stack tagged selfheal:fence: the old server is stopped (Nova's
  record) before Heat is told to replace it (Heat's record), with
  safe_time_to_assume_dead between them, and the replacement is created
  after that.
"""

from __future__ import annotations

import datetime
import threading

import pytest

from tests.cloud.helpers import Cluster, cloud_healer, heal_request
from tests.cloud.test_remediation_controls import (
    run_for,
    units_seen_by_the_datasource,
)
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.steps import parse_ladder
from vitrage_selfheal.model import Reason


def server_of(conn, unit) -> str:
    (server,) = [r.physical_resource_id
                 for r in conn.orchestration.resources(unit.physical_id)
                 if r.resource_type == "OS::Nova::Server"]
    return server


def instance_actions(conn, server_id: str) -> list[dict]:
    # 2.21: the actions of a deleted server are listed too.
    answer = conn.compute.get(f"/servers/{server_id}/os-instance-actions",
                              microversion="2.21")
    return answer.json()["instanceActions"]


def when(text: str) -> float:
    stamp = datetime.datetime.fromisoformat(text.rstrip("Z"))
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


class BrokenServer:
    """Keeps a server in ERROR, as a server whose disk or image is broken
    would be: every time it comes back ACTIVE it is reset to ERROR."""

    def __init__(self, conn, server_id: str) -> None:
        self.conn, self.server_id = conn, server_id
        self.resets = 0
        self._stop = threading.Event()
        conn.compute.reset_server_state(server_id, "error")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.3):
            server = self.conn.compute.find_server(self.server_id,
                                                   ignore_missing=True)
            if server is None:
                return
            if server.status == "ACTIVE" and server.task_state is None:
                self.conn.compute.reset_server_state(self.server_id,
                                                     "error")
                self.resets += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def cluster(conn):
    c = Cluster(conn, size=2)
    yield c
    c.delete()


def test_a_reboot_that_does_not_heal_escalates_to_replace(conn, mistral,
                                                          cluster,
                                                          tmp_path):
    healer = cloud_healer(conn, mistral, tmp_path, Policy(
        coalesce_window=0.5, cooldown=0, unit_grace=0,
        remediation_ladder=parse_ladder("reboot:15>replace")))
    before = cluster.members()
    name, other = sorted(before)
    unit = cluster.unit(name)
    old_server = server_of(conn, unit)
    broken = BrokenServer(conn, old_server)
    try:
        seen = healer.submit(heal_request(unit))
        assert [d.reason for d in seen] == [Reason.FIRST_HEAL]
        seen += run_for(healer, 240, until=Reason.EXECUTION_SUCCEEDED)
    finally:
        broken.stop()
    reasons = [d.reason for d in seen]
    dispatched = [d for d in seen if d.reason is Reason.BATCH_DISPATCHED]
    assert [" reboots " in d.detail for d in dispatched] == [True, False]
    assert Reason.ESCALATED in reasons
    assert reasons.index(Reason.ESCALATED) < reasons.index(
        Reason.EXECUTION_SUCCEEDED)
    assert Reason.REMEDIATED not in reasons
    # Nova did reboot it (hard), and it was back in ERROR after.
    actions = [a["action"] for a in instance_actions(conn, old_server)]
    assert "reboot" in actions and broken.resets >= 1
    after = cluster.members()
    assert after[name][0] != before[name][0]
    assert after[other][0] == before[other][0]
    assert cluster.status() == "UPDATE_COMPLETE"


def test_fencing_stops_the_old_server_before_its_replacement(conn, mistral,
                                                             tmp_path):
    safe_time = 5.0
    healer = cloud_healer(conn, mistral, tmp_path, Policy(
        coalesce_window=0.5, cooldown=0, unit_grace=0,
        safe_time_to_assume_dead=safe_time))
    cluster = Cluster(conn, size=2, tags=["selfheal:fence"])
    try:
        units = units_seen_by_the_datasource(conn, cluster.id)
        name, other = sorted(units)
        assert units[name].controls == "fence"
        before = cluster.members()
        old_server = server_of(conn, units[name])
        seen = healer.submit(heal_request(units[name]))
        seen += run_for(healer, 240, until=Reason.EXECUTION_SUCCEEDED)
        (dispatched,) = [d for d in seen
                         if d.reason is Reason.BATCH_DISPATCHED]
        assert "fencing first" in dispatched.detail
        after = cluster.members()
        assert after[name][0] != before[name][0]
        assert after[other][0] == before[other][0]
        new_server = server_of(conn, cluster.unit(name))
        # Nova's record: the old server was stopped, then deleted; the new
        # one was created after the stop and the safe time.
        old = {a["action"]: when(a["start_time"])
               for a in instance_actions(conn, old_server)}
        new = {a["action"]: when(a["start_time"])
               for a in instance_actions(conn, new_server)}
        assert old["stop"] + safe_time <= new["create"]
        assert old["stop"] < old["delete"]
        # Heat's record: the unit was marked unhealthy only after that.
        group = conn.orchestration.get_stack(cluster.group_stack)
        events = conn.orchestration.get(
            f"/stacks/{group.name}/{group.id}/resources/{name}/events"
        ).json()["events"]
        (marked,) = [e for e in events
                     if e["resource_status"] == "CHECK_FAILED"]
        # Heat keeps event times to the whole second (truncated), Nova to
        # the microsecond: the mark's second must not end before the safe
        # time does.
        assert when(marked["event_time"]) + 1 > old["stop"] + safe_time
    finally:
        cluster.delete()


HOOKS = """---
version: '2.0'
selfheal_test.abandon:
  input: [root_stack_id, units, reason]
  output:
    result: ABANDON
    asked_for: <% $.units.resource_name %>
  tasks:
    answer:
      action: std.noop
selfheal_test.slow:
  input: [root_stack_id, units, reason]
  output:
    result: ABANDON
  tasks:
    drain:
      action: std.sleep seconds=60
"""


def install_hooks(conn, mistral) -> None:
    url = f"{mistral.endpoint}/workflows?scope=public"
    headers = {"Content-Type": "text/plain"}
    answer = conn.session.post(url, data=HOOKS, headers=headers,
                               raise_exc=False)
    if answer.status_code == 409:
        answer = conn.session.put(url, data=HOOKS, headers=headers)
    assert answer.status_code in (200, 201), answer.text


def test_the_pre_replace_hook_abandons_or_times_out_to_its_default(
        conn, mistral, cluster):
    import uuid

    from tests.cloud.helpers import finish
    from vitrage_selfheal.dispatch.base import (
        HOOK_STEP,
        ExecState,
        PreReplaceHook,
    )
    install_hooks(conn, mistral)
    before = cluster.members()
    name = sorted(before)[0]
    unit = cluster.unit(name)
    done = finish(mistral, mistral.start(
        str(uuid.uuid4()), cluster.id, [unit], "hook test",
        hook=PreReplaceHook("selfheal_test.abandon", 30)).id)
    assert done.state is ExecState.ERROR
    assert done.output["failure"]["step"] == HOOK_STEP
    assert "answered ABANDON" in done.output["failure"]["message"]
    # Nothing was marked, nothing replaced.
    assert cluster.members()[name][0] == before[name][0]
    # A hook that does not answer within its timeout: the default.
    done = finish(mistral, mistral.start(
        str(uuid.uuid4()), cluster.id, [unit], "hook test",
        hook=PreReplaceHook("selfheal_test.slow", 3, "CONTINUE")).id)
    assert done.state is ExecState.SUCCESS, done
    assert cluster.members()[name][0] != before[name][0]
