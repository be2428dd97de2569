"""Issue 11: the self-healing SIG's chain on real services, into Vitrage.

A unit's server goes to ERROR out of band. Two real paths see it:
Nova's instance update reaches the heat.unit datasource directly, and
Ceilometer's notification agent turns it into an event that fires the
unit's Aodh event alarm (SIG-style: one alarm per unit, on its server),
whose `alarm.state_transition` notification reaches the embedded engine's
own Aodh datasource; templates/unit_application_unhealthy.yaml then
raises 'selfheal.heal: application unhealthy' on the unit, caused by the
Aodh alarm. The same alarm's trust+zaqar:// action posts the SIG's
message into a real Zaqar queue. Exactly one heal.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import time
import uuid
from typing import Any

import openstack.exceptions
import pytest

from tests.cloudfixtures import TRANSPORT_URL
from vitrage_selfheal import paths
from vitrage_selfheal.democloud.run import wait_for
from vitrage_selfheal.model import Reason

QUEUE = "selfheal-sig-test"
APP_ALARM = "selfheal.heal: application unhealthy"
SERVER_ALARM = "selfheal.heal: server lost"


def zaqar_conf(extra: str = "") -> str:
    # The cluster is the admin's: its trust+zaqar:// alarms post into the
    # admin project's queue, which the plugin (admin) reads. Listing every
    # project's stacks needs Heat's global_index, which devcloud's admin
    # lacks.
    return (f"[selfheal_zaqar]\nqueues = {QUEUE}\npoll_interval = 0.5\n"
            f"resolver_min_interval = 1\nall_projects = false\n" + extra)


def sig_demo(devcloud, tmp_path, conf_extra: str):
    from vitrage_selfheal.democloud.run import CloudDemo
    from vitrage_selfheal.ingest import zaqar

    out = io.StringIO()
    heat = paths.templates_dir() / "heat"
    d = CloudDemo(tmp_path / "demo", devcloud, TRANSPORT_URL, "devcloud",
                  out=out, snapshot_interval=60,
                  extra_datasources=("aodh",),
                  cluster_template=(heat / "sig_cluster.yaml",
                                    heat / "sig_unit.yaml"),
                  cluster_parameters={"queue": QUEUE},
                  conf_extra=conf_extra)
    d.setup()
    try:
        drain_queue(d.conn)
        d.consumer = zaqar.from_conf(d.conf, d.app, conn=d.conn).start()
        try:
            d.create_cluster()
            yield d
        finally:
            d.consumer.stop()
    finally:
        d.service.stop()
        d.app.stop()
        print(out.getvalue())
    stack_deleted_with_its_alarms(d.conn, d.stack_id, d.stack_name)


@pytest.fixture
def demo(devcloud, event_alarms, tmp_path):
    """Both ways in: the embedded engine with our templates, and the
    queue."""
    yield from sig_demo(devcloud, tmp_path, zaqar_conf())


@pytest.fixture
def queue_demo(devcloud, event_alarms, tmp_path):
    """The queue alone: the engine runs (the unit datasource) with no
    template, so nothing but the queue asks for a heal."""
    empty = tmp_path / "no-templates"
    empty.mkdir()
    yield from sig_demo(devcloud, tmp_path,
                        zaqar_conf(f"[engine]\ntemplates = {empty}\n"))


def queue_url(conn: Any, suffix: str = "") -> str:
    return (conn.endpoint_for("messaging").rstrip("/")
            + f"/v2/queues/{QUEUE}{suffix}")


def drain_queue(conn: Any) -> None:
    """Messages of an earlier run would be healed here too."""
    conn.session.delete(queue_url(conn),
                        headers={"Client-ID": str(uuid.uuid4())},
                        raise_exc=False)


def post_messages(conn: Any, bodies: list[Any]) -> None:
    answer = conn.session.post(
        queue_url(conn, "/messages"),
        json={"messages": [{"ttl": 600, "body": b} for b in bodies]},
        headers={"Client-ID": str(uuid.uuid4())}, raise_exc=False)
    assert answer.status_code == 201, answer.text[:500]


def ledger_rows(demo: Any, sql: str, *args: Any) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(demo.workdir / "ledger.db")) as c:
        return c.execute(sql, args).fetchall()


def aodh(conn: Any, method: str, path: str, body: Any = None) -> Any:
    url = conn.endpoint_for("alarming").rstrip("/") + path
    answer = conn.session.request(url, method, json=body, raise_exc=False)
    assert answer.status_code < 300, (method, path, answer.text[:500])
    return answer.json() if answer.text else None


def zaqar_messages(conn: Any) -> list[dict]:
    url = queue_url(conn, "/messages?echo=true&limit=20")
    answer = conn.session.get(url, headers={"Client-ID": str(uuid.uuid4())},
                              raise_exc=False)
    assert answer.status_code in (200, 204), answer.text[:500]
    return answer.json()["messages"] if answer.status_code == 200 else []


def unit_alarm(conn: Any, server: str, event_type: str) -> dict:
    """The unit's Aodh event alarm (sig_unit.yaml) on `server`."""
    found = [a for a in aodh(conn, "GET", "/v2/alarms")
             if a["type"] == "event"
             and a["event_rule"]["event_type"] == event_type
             and any(q["value"] == server
                     for q in a["event_rule"]["query"])]
    assert len(found) == 1, found
    return found[0]


def stack_deleted_with_its_alarms(conn: Any, stack_id: str,
                                  name: str) -> None:
    conn.orchestration.delete_stack(stack_id)
    def gone() -> bool:
        try:
            stack = conn.orchestration.get_stack(stack_id)
        except openstack.exceptions.NotFoundException:
            return True
        return stack.status == "DELETE_COMPLETE"

    assert wait_for("the SIG cluster deleted", gone, timeout=300)
    left = [a["name"] for a in aodh(conn, "GET", "/v2/alarms")
            if a["name"].startswith(name)]
    assert left == []


def aodh_vertex(demo: Any, alarm_id: str) -> Any:
    with demo.engine.lock:
        for v in demo.engine.vertices(vitrage_type="aodh"):  # deleted too
            if v.get("id") == alarm_id:
                return dict(v.properties)
    return None


def alarms_raised(demo: Any, unit_key: str) -> dict[str, int]:
    """Each alarm the plugin has seen on the unit, with its activations
    (the ledger's unit_alarms)."""
    return dict(ledger_rows(demo, "SELECT alarm_name, activations FROM "
                            "unit_alarms WHERE unit_key = ?", unit_key))


def zaqar_decisions(demo: Any, alarm_id: str) -> list[tuple]:
    return ledger_rows(demo, "SELECT at, reason, detail FROM decisions "
                       "WHERE source = 'zaqar' AND alarm_key LIKE ?",
                       f"zaqar:{alarm_id}:%")


def test_server_error_healed_once_via_nova_and_via_aodh(demo):
    conn = demo.conn
    key = sorted(demo.units)[0]
    (server,) = demo.units[key]
    alarm = unit_alarm(conn, server, "compute.instance.update")
    assert "selfheal_app_unhealthy" in alarm["name"]
    assert alarm["alarm_actions"] == [f"trust+zaqar:?queue_name={QUEUE}"]
    alarm_id = alarm["alarm_id"]
    line = demo.heal_fault("server reset to ERROR (SIG alarm on it)",
                           [key], "error")
    assert demo.failures == []
    assert line.executions == 1

    # Vitrage's Aodh datasource adds an alarm only once it fires: the
    # state transition put it on the server (the vertex is marked deleted
    # since, with the old unit's alarms that Heat deleted).
    vertex = aodh_vertex(demo, alarm_id)
    assert vertex is not None and vertex["resource_id"] == server
    # The SIG's message came through the queue too: consumed, answered
    # without a heal, deleted.
    (zaqar_decision,) = wait_for("the queue's request in the ledger", lambda:
                                 zaqar_decisions(demo, alarm_id),
                                 timeout=60)
    z_at, z_reason, _ = zaqar_decision
    assert z_reason in ("ALREADY_HEALING", "DUPLICATE", "COOLDOWN"), \
        zaqar_decision
    assert wait_for("the queue drained", lambda: zaqar_messages(conn) == [],
                    timeout=30)

    # The Aodh path's own deduced alarm reached the plugin: a second
    # request on the unit, answered without a second heal.
    seen = [(at, d) for at, d in demo.recorder.decisions
            if at >= line.injected and d.unit_key == key]
    for at, d in seen:
        print(f"+{at - line.injected:.2f}s {d}")
    reasons = [d.reason for at, d in seen]
    assert reasons.count(Reason.FIRST_HEAL) == 1, reasons
    # Two Vitrage alarms on the unit, each raised once: the one the FIRST_HEAL
    # names came the direct way, so the other request, answered
    # ALREADY_HEALING, is the Aodh path's.
    # (and the queue's: the Aodh alarm itself, by its own name)
    assert alarms_raised(demo, key) == {APP_ALARM: 1, SERVER_ALARM: 1,
                                        alarm["name"]: 1}
    (first,) = [d for at, d in seen if d.reason is Reason.FIRST_HEAL]
    assert f"incident {SERVER_ALARM}@" in first.detail
    via_aodh = [at for (at,) in ledger_rows(
        demo, "SELECT at FROM decisions WHERE unit_key = ? AND source != "
        "'zaqar' AND reason = 'ALREADY_HEALING' ORDER BY at", key)]
    assert via_aodh, reasons
    timings = {
        "direct_nova_decision_s": round(line.decided - line.injected, 2),
        "via_aodh_decision_s": round(via_aodh[0] - line.injected, 2),
        "via_zaqar_decision_s": round(z_at - line.injected, 2),
        "executions": line.executions,
        "healed_s": round(line.completed - line.injected, 1),
    }
    artefacts = paths.CHECKOUT / "var" / "test-artefacts"
    artefacts.mkdir(parents=True, exist_ok=True)
    (artefacts / "event-alarms.json").write_text(
        json.dumps(timings, indent=2, sort_keys=True))
    print(json.dumps(timings, indent=2, sort_keys=True))
    assert timings["via_aodh_decision_s"] < 5, timings
    # Nothing healed the unit again, whatever came after.
    assert demo.recorder.count(line.injected,
                               Reason.BATCH_DISPATCHED) == 1
    # Heat replaced the whole unit: the new server has its alarms.
    (new_server,) = wait_for("the replacement in Vitrage's graph",
                             lambda: demo._graph_units().get(key))
    assert new_server != server
    unit_alarm(conn, new_server, "compute.instance.update")


def test_queue_alone_heals_once_and_rejects_poison(queue_demo):
    """No Vitrage template: the SIG's delete alarm through the queue is
    the only way in."""
    demo, conn = queue_demo, queue_demo.conn
    first, second = sorted(demo.units)[:2]
    # 1. nova delete -> Ceilometer -> Aodh 'deleted' alarm -> Zaqar.
    line = demo.heal_fault("server deleted (SIG alarm, queue only)",
                           [first], "delete")
    assert demo.failures == [] and line.executions == 1
    rows = ledger_rows(demo, "SELECT reason, source FROM decisions WHERE "
                       "unit_key = ? AND reason = 'FIRST_HEAL'",
                       demo.members[first].key)
    assert rows == [("FIRST_HEAL", "zaqar")], rows

    # 2. Twenty alarms for one unit in 2 s (Aodh's body for its server):
    #    one heal.
    (server,) = demo.units[second]
    body = {"alarm_name": "sig-test selfheal_server_deleted",
            "alarm_id": str(uuid.uuid4()), "severity": "critical",
            "previous": "insufficient data", "current": "alarm",
            "reason": "Event hits the query",
            "reason_data": {"type": "event", "event": {
                "event_type": "compute.instance.delete.end",
                "traits": [["resource_id", 1, server],
                           ["instance_id", 1, server]]}}}
    since = time.time()
    for _ in range(4):
        post_messages(conn, [body] * 5)
        time.sleep(0.4)
    wait_for("the unit healed", lambda: demo.recorder.first(
        since, Reason.EXECUTION_SUCCEEDED), timeout=300)
    reasons = [d.reason for at, d in demo.recorder.decisions
               if at >= since and d.unit_key == demo.members[second].key]
    assert reasons.count(Reason.FIRST_HEAL) == 1, reasons
    assert reasons.count(Reason.DUPLICATE) + reasons.count(
        Reason.ALREADY_HEALING) == 19, reasons
    assert demo.recorder.count(since, Reason.BATCH_DISPATCHED) == 1

    # 3. A poison message: rejected with a reason, deleted, counted.
    post_messages(conn, ["not an alarm"])
    rejected = wait_for("the rejection in the ledger", lambda: ledger_rows(
        demo, "SELECT reason, detail FROM decisions WHERE source = 'zaqar' "
        "AND action = 'reject'"), timeout=30)
    assert rejected[0][0] == "MALFORMED", rejected
    assert wait_for("the queue drained", lambda: zaqar_messages(conn) == [],
                    timeout=30)
