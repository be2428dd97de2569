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
import uuid
from typing import Any

import pytest

from tests.cloudfixtures import TRANSPORT_URL
from vitrage_selfheal import paths
from vitrage_selfheal.democloud.run import wait_for
from vitrage_selfheal.model import Reason

QUEUE = "selfheal-sig-test"
APP_ALARM = "selfheal.heal: application unhealthy"
SERVER_ALARM = "selfheal.heal: server lost"


@pytest.fixture
def demo(devcloud, event_alarms, tmp_path):
    from vitrage_selfheal.democloud.run import CloudDemo

    out = io.StringIO()
    heat = paths.templates_dir() / "heat"
    d = CloudDemo(tmp_path / "demo", devcloud, TRANSPORT_URL, "devcloud",
                  out=out, snapshot_interval=60,
                  extra_datasources=("aodh",),
                  cluster_template=(heat / "sig_cluster.yaml",
                                    heat / "sig_unit.yaml"),
                  cluster_parameters={"queue": QUEUE})
    d.setup()
    try:
        d.create_cluster()
        yield d
    finally:
        d.service.stop()
        d.app.stop()
        print(out.getvalue())
    stack_deleted_with_its_alarms(d.conn, d.stack_id, d.stack_name)


def aodh(conn: Any, method: str, path: str, body: Any = None) -> Any:
    url = conn.endpoint_for("alarming").rstrip("/") + path
    answer = conn.session.request(url, method, json=body, raise_exc=False)
    assert answer.status_code < 300, (method, path, answer.text[:500])
    return answer.json() if answer.text else None


def zaqar_messages(conn: Any) -> list[dict]:
    url = (conn.endpoint_for("messaging").rstrip("/")
           + f"/v2/queues/{QUEUE}/messages?echo=true&limit=20")
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
    gone = wait_for("the SIG cluster deleted", lambda: (
        conn.orchestration.find_stack(stack_id) is None or conn.orchestration
        .get_stack(stack_id).status == "DELETE_COMPLETE"), timeout=300)
    assert gone
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
    db = demo.workdir / "ledger.db"
    with contextlib.closing(sqlite3.connect(db)) as c:
        rows = c.execute("SELECT alarm_name, activations FROM unit_alarms "
                         "WHERE unit_key = ?", (unit_key,)).fetchall()
    return dict(rows)


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
    messages = wait_for("the SIG message in the Zaqar queue",
                        lambda: zaqar_messages(conn), timeout=60)
    (message,) = [m for m in messages
                  if m["body"].get("alarm_id") == alarm_id]
    body = message["body"]
    assert body["current"] == "alarm"
    traits = {t[0]: t[2] for t in body["reason_data"]["event"]["traits"]}
    assert traits["resource_id"] == server

    # The Aodh path's own deduced alarm reached the plugin: a second
    # request on the unit, answered without a second heal.
    seen = [(at, d) for at, d in demo.recorder.decisions
            if at >= line.injected and d.unit_key == key]
    for at, d in seen:
        print(f"+{at - line.injected:.2f}s {d}")
    reasons = [d.reason for at, d in seen]
    assert reasons.count(Reason.FIRST_HEAL) == 1, reasons
    # Two alarms on the unit, each raised once: the one the FIRST_HEAL
    # names came the direct way, so the other request, answered
    # ALREADY_HEALING, is the Aodh path's.
    assert alarms_raised(demo, key) == {APP_ALARM: 1, SERVER_ALARM: 1}
    (first,) = [d for at, d in seen if d.reason is Reason.FIRST_HEAL]
    assert f"incident {SERVER_ALARM}@" in first.detail
    via_aodh = [at for at, d in seen
                if d.reason is Reason.ALREADY_HEALING]
    assert via_aodh, reasons
    timings = {
        "direct_nova_decision_s": round(line.decided - line.injected, 2),
        "via_aodh_decision_s": round(via_aodh[0] - line.injected, 2),
        "zaqar_message_age_s": message["age"],
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
