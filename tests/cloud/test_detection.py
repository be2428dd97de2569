"""Issue 11: a unit's server deleted, gone to ERROR or stopped out of band
is detected from Nova's notifications within seconds with Vitrage's
default 60 s snapshot interval, and healed once.

Real Nova (fake virt driver), RabbitMQ, Heat and Mistral; the embedded
Vitrage engine listens on the bus with our heat.unit datasource. Nova's
legacy compute.instance.update is what carries an ERROR (Vitrage's own
Nova driver takes none); a stop also sends compute.instance.power_off.end.
"""

from __future__ import annotations

import io
import json

import pytest

from tests.cloudfixtures import TRANSPORT_URL
from vitrage_selfheal import paths

# Vitrage's own default [datasources] snapshots_interval.
DEFAULT_SNAPSHOT_INTERVAL = 60
DETECTION_LIMIT = 5.0


@pytest.fixture
def demo(devcloud, tmp_path):
    from vitrage_selfheal.democloud.run import CloudDemo

    out = io.StringIO()
    d = CloudDemo(tmp_path / "demo", devcloud, TRANSPORT_URL, "devcloud",
                  out=out, snapshot_interval=DEFAULT_SNAPSHOT_INTERVAL)
    d.setup()
    try:
        d.create_cluster()
        yield d
    finally:
        d.service.stop()
        d.app.stop()
        d.conn.orchestration.delete_stack(d.stack_id)
        print(out.getvalue())


def test_delete_error_and_stop_are_detected_in_seconds(demo):
    keys = sorted(demo.units)
    lines = {how: demo.heal_fault(f"server {how} out of band", [key], how)
             for how, key in zip(("delete", "error", "stop"), keys[:3],
                                 strict=True)}
    assert demo.failures == []
    measured = {how: {"detection_s": round(line.decided - line.injected, 2),
                      "dispatch_s": round(line.dispatched - line.injected,
                                          2),
                      "healed_s": round(line.completed - line.injected, 1),
                      "executions": line.executions}
                for how, line in lines.items()}
    artefacts = paths.CHECKOUT / "var" / "test-artefacts"
    artefacts.mkdir(parents=True, exist_ok=True)
    (artefacts / "detection.json").write_text(
        json.dumps(measured, indent=2, sort_keys=True))
    print(json.dumps(measured, indent=2, sort_keys=True))
    for how, m in measured.items():
        assert m["executions"] == 1, (how, m)
        assert m["detection_s"] < DETECTION_LIMIT, (how, m)
