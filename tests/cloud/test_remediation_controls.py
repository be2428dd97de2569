"""Remediation controls on the real Heat, Mistral and Nova: a stack
excluded by a real Heat tag is never healed; shadow mode starts nothing in
Mistral and touches nothing in Heat, then goes live with one command."""

from __future__ import annotations

import pytest

from tests.cloud.helpers import Cluster, cloud_healer, heal_request, wait_for
from vitrage_selfheal import operator
from vitrage_selfheal.datasources.heat.unit.driver import HeatUnitDriver
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.base import ExecState
from vitrage_selfheal.ingest.units import unit_from_fields
from vitrage_selfheal.model import Reason, Unit


@pytest.fixture
def healer(conn, mistral, tmp_path):
    return cloud_healer(conn, mistral, tmp_path, Policy(
        coalesce_window=0.5, cooldown=0, unit_grace=0))


def units_seen_by_the_datasource(conn, stack_id: str) -> dict[str, Unit]:
    """The real heat.unit driver's view of the stack, as the engine gets
    it, turned into units the way the ingest reads a vertex."""
    # all_projects off: Heat 27 denies stacks:global_index by default.
    events = HeatUnitDriver(conn=conn, all_projects=False).get_all(
        "snapshot")
    found = {}
    for event in events:
        if event.get("root_stack_id") != stack_id:
            continue
        unit = unit_from_fields(event, "id", "heat.unit event")
        assert isinstance(unit, Unit), unit
        found[unit.resource_name] = unit
    return found


def heal(healer, unit: Unit):
    return healer.submit(heal_request(unit))


def run_for(healer, seconds: float, until=None) -> list:
    seen: list = []

    def step():
        seen.extend(healer.tick())
        return until is not None and until in [d.reason for d in seen]
    try:
        wait_for(str(until), step, timeout=seconds, every=1)
    except Exception:
        if until is not None:
            raise
    return seen


def test_a_stack_tagged_selfheal_exclude_is_never_healed(conn, healer):
    cluster = Cluster(conn, size=2, tags=["selfheal:exclude", "team-web"])
    try:
        assert conn.orchestration.get_stack(cluster.id).tags == [
            "selfheal:exclude", "team-web"]
        units = units_seen_by_the_datasource(conn, cluster.id)
        assert {u.controls for u in units.values()} == {"exclude"}
        before = cluster.members()
        name = sorted(units)[0]
        assert [d.reason for d in heal(healer, units[name])] == [
            Reason.EXCLUDED]
        seen = run_for(healer, 8)
        assert Reason.BATCH_DISPATCHED not in [d.reason for d in seen]
        assert cluster.members() == before
    finally:
        cluster.delete()


def test_shadow_mode_starts_nothing_then_goes_live(conn, mistral, healer):
    cluster = Cluster(conn, size=2)
    try:
        operator.shadow(healer.ledger, healer.clock.now(), True, cluster.id,
                        "cloud test")
        before = cluster.members()
        name = sorted(before)[0]
        heal(healer, cluster.unit(name))
        seen = run_for(healer, 30, Reason.SHADOW)
        (shadow,) = [d for d in seen if d.reason is Reason.SHADOW]
        execution_id = shadow.detail.split("execution ")[1].split()[0]
        assert mistral.get(execution_id).state is ExecState.MISSING
        run_for(healer, 5)
        assert cluster.members() == before
        assert cluster.status().endswith("_COMPLETE")

        operator.shadow(healer.ledger, healer.clock.now(), False, cluster.id)
        seen = run_for(healer, 300, Reason.EXECUTION_SUCCEEDED)
        after = cluster.members()
        assert after[name][0] != before[name][0]
        (other,) = set(before) - {name}
        assert after[other][0] == before[other][0]   # not replaced
    finally:
        cluster.delete()
