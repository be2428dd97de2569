"""The engine service takes notifications off the bus (oslo.messaging's
in-memory transport here; RabbitMQ in the cloud suite) into the real
Vitrage push path, and our plugin heals from the deduced alarm."""

from __future__ import annotations

import time

import pytest

from tests.unit.fakes import RecordingDispatcher
from vitrage_selfheal import paths
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.healer import Healer
from vitrage_selfheal.ingest import opts as ingest_opts
from vitrage_selfheal.ledger.locks import Locks
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import Reason

pytestmark = pytest.mark.engine
pytest.importorskip("vitrage")


def test_bus_notification_reaches_the_healer(tmp_path):
    import oslo_messaging
    from vitrage import messaging
    from vitrage.common.constants import DatasourceAction

    from vitrage_selfheal.engine.config import EngineSettings
    from vitrage_selfheal.engine.embedded import EmbeddedEngine
    from vitrage_selfheal.engine.service import EngineService

    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    ledger.upgrade()
    healer = Healer(ledger, Locks(f"file://{tmp_path}/locks", "t"),
                    RecordingDispatcher(), lambda _s: "CREATE_COMPLETE",
                    Policy(), FakeClock())
    engine = EmbeddedEngine(
        EngineSettings(workdir=tmp_path / "engine",
                       template_paths=[str(paths.templates_dir())],
                       datasource_types=("nova.host", "nova.instance",
                                         "nova.zone", "heat.unit",
                                         "doctor")),
        sink=healer, ingest_conf=ingest_opts.load([]))
    service = EngineService(engine, snapshot_interval=3600,
                            snapshot_types=())
    service.start()
    try:
        engine.snapshot("nova.host", [{"host": "h1", "zone": "nova"}],
                        DatasourceAction.INIT_SNAPSHOT)
        engine.snapshot("nova.instance", [{
            "id": "vm-1", "name": "vm-1", "OS-EXT-SRV-ATTR:host": "h1",
            "status": "ACTIVE", "tenant_id": "p"}],
            DatasourceAction.INIT_SNAPSHOT)
        unit = {"root_stack_id": "root", "stack_id": "grp",
                "resource_name": "m0", "physical_id": "nested-0",
                "group": "grp", "group_name": "asg", "group_size": 4,
                "state": "CREATE_COMPLETE", "server_ids": ["vm-1"],
                "project_id": "p", "name": "c/asg/m0"}
        engine.snapshot("heat.unit", [unit], DatasourceAction.INIT_SNAPSHOT)

        # A Doctor host-down notification, as it travels on the bus.
        notifier = oslo_messaging.Notifier(
            messaging.get_transport(),
            driver="messagingv2", publisher_id="doctor.monitor",
            topics=["vitrage_notifications"])
        notifier.info({}, "vitrage.custom.event.down", {
            "time": "2026-01-01T00:00:00.000000", "type": "compute.host.down",
            "details": {"hostname": "h1", "status": "down",
                        "severity": "critical", "source": "test"}})

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with ledger.transaction() as tx:
                reasons = [r.reason for r in tx.decisions()]
            if reasons:
                break
            time.sleep(0.1)
        assert service.endpoint.received == 1
        assert reasons == [Reason.FIRST_HEAL.value]
    finally:
        service.stop()
