"""Auto-scaling from real Aodh alarms on real Gnocchi measures, through the
plugin's queue, on the real Heat, Mistral and Nova.

The group's load is pushed into Gnocchi as measures of its servers
(resource type `instance`, `server_group` = the stack, as Ceilometer
stores Heat's `metering.server_group`); `vitrage-selfheal autoscale`
creates the two alarms; the real aodh-evaluator fires them and the real
aodh-notifier posts to the plugin's scale links. Load high → one scale-out
(N+1 from Heat); a unit falls sick, load low → a scale-in that removes
that unit and touches no other.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import pytest

from tests.cloud.helpers import Cluster, cloud_healer, heal_request, wait_for
from tests.unit.test_ingest_webhook import running
from vitrage_selfheal.cli.main import main
from vitrage_selfheal.clock import SystemClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.ingest import aodh_alarms
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.model import Reason

SECRET = "autoscale-test-secret"
POLICY = "selfheal-test-5s"
GRANULARITY = 5
METRIC = "load"
HIGH, LOW = 90.0, 5.0


class Gnocchi:
    def __init__(self, conn: Any) -> None:
        self.session = conn.session
        self.base = conn.session.get_endpoint(
            service_type="metric", interface="public").rstrip("/") + "/v1"

    def call(self, method: str, path: str, body: Any = None,
             ok: tuple[int, ...] = (200, 201, 202, 204)) -> Any:
        answer = self.session.request(self.base + path, method, json=body,
                                      raise_exc=False, timeout=30)
        assert answer.status_code in ok, \
            f"{method} {path}: {answer.status_code} {answer.text[:300]}"
        return answer

    def prepare(self) -> None:
        """The archive policy and the resource type Ceilometer would have
        created (409: there already)."""
        self.call("POST", "/archive_policy", {
            "name": POLICY, "back_window": 0,
            "aggregation_methods": ["mean", "max"],
            "definition": [{"granularity": f"{GRANULARITY}s",
                            "points": 720}]}, ok=(201, 409))
        self.call("POST", "/resource_type", {
            "name": "instance", "attributes": {
                "server_group": {"type": "string", "required": False},
                "display_name": {"type": "string", "required": False}}},
            ok=(201, 409))

    def add_server(self, server_id: str, stack_id: str) -> None:
        self.call("POST", "/resource/instance", {
            "id": server_id, "server_group": stack_id,
            "display_name": server_id[:8],
            "metrics": {METRIC: {"archive_policy_name": POLICY}}},
            ok=(201, 409))

    def push(self, server_ids: list[str], value: float) -> None:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        self.call("POST", "/batch/resources/metrics/measures", {
            sid: {METRIC: [{"timestamp": now, "value": value}]}
            for sid in server_ids})

    def remove(self, server_id: str) -> None:
        self.call("DELETE", f"/resource/instance/{server_id}",
                  ok=(204, 404))


@pytest.fixture
def cluster(conn):
    c = Cluster(conn, size=2)
    yield c
    c.delete()


@pytest.fixture
def receiver(conn, mistral, tmp_path):
    """The plugin's healer behind its HTTP receiver on 127.0.0.1."""
    # A long coalescing window keeps a sick unit's heal queued, so that
    # the scale-in finds it; scale_cooldown spaces Aodh's repeats.
    healer = cloud_healer(conn, mistral, tmp_path, Policy(
        coalesce_window=600, cooldown=0, unit_grace=0, scale_cooldown=20),
        groups=True)
    ledger = healer.ledger
    conf = ingest_opts.load([])
    conf.set_override("secret", SECRET, group=ingest_opts.WEBHOOK_GROUP)
    with running(healer, conf, SystemClock()) as base:
        yield healer, ledger, base


def delete_alarms(conn, stack_id: str) -> None:
    endpoint = conn.session.get_endpoint(service_type="alarming",
                                         interface="public")
    for alarm in conn.session.get(endpoint + "/v2/alarms").json():
        if alarm["name"].startswith(aodh_alarms.NAME_PREFIX) and \
                stack_id in alarm["name"]:
            conn.session.delete(f"{endpoint}/v2/alarms/{alarm['alarm_id']}")


def test_aodh_alarms_scale_out_then_in_removing_the_sick_unit(
        conn, metrics, cluster, receiver, tmp_path, capsys):
    healer, ledger, base = receiver
    gnocchi = Gnocchi(conn)
    gnocchi.prepare()
    before = cluster.members()
    servers = {name: pid for name, (pid, _) in before.items()}
    for sid in servers.values():
        gnocchi.add_server(sid, cluster.id)
    conf_file = tmp_path / "selfheal.conf"
    conf_file.write_text(
        f"[selfheal_webhook]\nsecret = {SECRET}\npublic_url = {base}\n"
        f"[openstack]\ncloud = devcloud\n")
    try:
        assert main(["--config-file", str(conf_file), "autoscale",
                     "--stack", cluster.id, "--group", "asg",
                     "--metric", METRIC, "--above", "70", "--below", "20",
                     "--granularity", str(GRANULARITY)]) == 0
        created = capsys.readouterr().out
        assert created.count(aodh_alarms.NAME_PREFIX) == 2, created
        seen: list = []

        def count(reason: Reason) -> int:
            # From the ledger: the receiver's thread records scale
            # requests, the ticks the rest.
            with ledger.transaction() as tx:
                return len(tx.decisions(reason=reason.value, limit=10000))

        def until(reason: Reason, value: float, timeout: float):
            start = count(reason)

            def reached():
                gnocchi.push(list(servers.values()), value)
                seen.extend(healer.tick())
                return count(reason) > start
            wait_for(reason.value, reached, timeout=timeout, every=1)

        # Load high: Aodh asks, the group grows by one.
        t0 = time.monotonic()
        until(Reason.SCALE_OUT, HIGH, timeout=120)
        asked_out = time.monotonic() - t0
        until(Reason.SCALE_SUCCEEDED, HIGH, timeout=300)
        grown = cluster.members()
        assert len(grown) == 3
        for name, (pid, _) in before.items():
            assert grown[name][0] == pid          # existing units untouched
        (new,) = set(grown) - set(before)
        with ledger.transaction() as tx:
            (scaled,) = tx.decisions(reason="SCALE_SUCCEEDED")
            outs = tx.decisions(reason="SCALE_OUT")
        assert {d.source for d in outs} == {"aodh"}
        print(f"scale-out asked {asked_out:.0f}s after the load rose, "
              f"group at 3 {time.monotonic() - t0:.0f}s after")

        # The new unit falls sick; its heal waits in the queue. Load low:
        # the scale-in takes the sick unit, and only it.
        servers[new] = grown[new][0]
        gnocchi.add_server(servers[new], cluster.id)
        sick = cluster.unit(new)
        healer.submit(heal_request(sick))
        seen.clear()
        t1 = time.monotonic()
        until(Reason.SCALE_IN, LOW, timeout=180)
        until(Reason.SCALE_SUCCEEDED, LOW, timeout=300)
        reasons = [d.reason for d in seen]
        assert Reason.REMOVED_BY_SCALE_IN in reasons
        assert [d.unit_key for d in seen
                if d.reason is Reason.REMOVED_BY_SCALE_IN] == [sick.key]
        assert Reason.DISPATCH_FAILED not in reasons
        shrunk = cluster.members()
        assert set(shrunk) == set(before)
        for name, (pid, _) in before.items():
            assert shrunk[name][0] == pid
        print(f"scale-in done {time.monotonic() - t1:.0f}s after the load "
              f"fell; decisions on the way: "
              f"{json.dumps(sorted({r.value for r in reasons}))}")
        with ledger.transaction() as tx:
            # One stack operation each way, never two at once.
            assert len(tx.decisions(reason="SCALE_SUCCEEDED")) == 2
            assert tx.open_scales() == [] and tx.open_batches() == []
        assert scaled
        # Aodh repeats its action on every evaluation while an alarm holds:
        # each repeat is a named no-op, not another step.
        print(f"Aodh repeats: {count(Reason.SCALE_MERGED)} SCALE_MERGED, "
              f"{count(Reason.SCALE_COOLDOWN)} SCALE_COOLDOWN")
        assert count(Reason.SCALE_OUT) == 1 and count(Reason.SCALE_IN) == 1
    finally:
        delete_alarms(conn, cluster.id)
        for sid in servers.values():
            gnocchi.remove(sid)
