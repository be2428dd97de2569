"""The README's main job on the real local cloud, and the circuit breaker
after a real failed heal."""

from __future__ import annotations

import io

from tests.cloud.helpers import Cluster, wait_for
from tests.cloudfixtures import TRANSPORT_URL
from vitrage_selfheal.clients import HeatStatus
from vitrage_selfheal.clock import SystemClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import HealRequest, Reason


def test_demo_heals_three_faults_on_the_real_cloud(devcloud, tmp_path):
    from vitrage_selfheal.democloud.run import CloudDemo

    out = io.StringIO()
    rc = CloudDemo(tmp_path / "demo", devcloud, TRANSPORT_URL,
                   "devcloud", out=out).run()
    assert rc == 0, out.getvalue()
    assert "all checks held" in out.getvalue()


def test_failed_heal_opens_the_circuit_breaker(conn, mistral, tmp_path):
    cluster = Cluster(conn)
    project = conn.current_project_id
    quota = conn.get_compute_quotas(project)
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    ledger.upgrade()
    healer = Healer(ledger, Locks(f"file://{tmp_path}/locks", "cloud"),
                    mistral, HeatStatus(conn),
                    Policy(coalesce_window=0.5, max_attempts=1),
                    SystemClock())
    try:
        conn.set_compute_quotas(project, instances=0)
        unit = cluster.unit(sorted(cluster.members())[0])
        healer.submit(HealRequest(unit=unit, alarm_key="test@unit",
                                  alarm_name="selfheal.heal: test"))

        def failed():
            healer.tick()
            with ledger.transaction() as tx:
                return [r.reason for r in tx.decisions()
                        if r.reason in ("EXECUTION_FAILED", "CIRCUIT_OPEN")]
        reasons = wait_for("the breaker", failed, timeout=300, every=1)
    finally:
        conn.set_compute_quotas(project, instances=quota.instances)
        cluster.delete()
    assert reasons[0] == Reason.EXECUTION_FAILED.value
    assert Reason.CIRCUIT_OPEN.value in reasons
    again = healer.submit(HealRequest(unit=unit, alarm_key="other@unit",
                                      alarm_name="selfheal.heal: again"))
    assert [d.reason for d in again] == [Reason.CIRCUIT_OPEN]
