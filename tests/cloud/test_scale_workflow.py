"""Scaling on the real local cloud: the shipped selfheal.scale workflow in a
real Mistral against a real Heat and Nova, and the healer's queue driving
it with Heat's own view of the group."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.cloud.helpers import (
    Cluster,
    cloud_healer,
    finish,
    heal_request,
    wait_for,
)
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.base import ExecState
from vitrage_selfheal.dispatch.heat_groups import HeatGroups
from vitrage_selfheal.model import (
    GroupRef,
    Reason,
    ScaleMethod,
    ScalePlan,
    ScaleRequest,
)


@pytest.fixture
def cluster(conn):
    c = Cluster(conn)
    yield c
    c.delete()


def ref(cluster: Cluster) -> GroupRef:
    return GroupRef(root_stack_id=cluster.id,
                    group_stack_id=cluster.group_stack)


def plan_for(conn, cluster: Cluster, delta: int, victims=(),
             method=None) -> ScalePlan:
    info = HeatGroups(conn)(ref(cluster))
    method = method or info.method
    policy = None
    if method is ScaleMethod.SIGNAL:
        policy = "scale_out" if delta > 0 else "scale_in"
    return ScalePlan(
        group=GroupRef(cluster.id, cluster.group_stack,
                       info.parent_stack_id, info.resource_name),
        method=method, size_before=info.size, target=info.size + delta,
        capacity_parameter=info.capacity_parameter, policy=policy,
        victims=tuple(victims))


def test_heat_tells_the_group_bounds_and_method(conn, cluster):
    info = HeatGroups(conn)(ref(cluster))
    assert (info.size, info.min_size, info.max_size) == (3, 1, 6)
    assert info.method is ScaleMethod.CAPACITY
    assert info.capacity_parameter == "size"
    assert (info.parent_stack_id, info.resource_name) == (cluster.id, "asg")


def test_scale_out_by_capacity_adds_one_and_touches_nothing(
        conn, cluster, mistral):
    before = cluster.members()
    plan = plan_for(conn, cluster, +1)
    done = finish(mistral, mistral.start(str(uuid.uuid4()), cluster.id, [],
                                         "cloud test", scale=plan).id)
    assert done.state is ExecState.SUCCESS, done
    result = done.output["result"]
    assert (result["size_before"], result["size_after"]) == (3, 4)
    after = cluster.members()
    (added,) = result["added"]
    assert set(after) == set(before) | {added["resource_name"]}
    for name, (physical, _) in before.items():
        assert after[name][0] == physical


def test_scale_in_removes_the_marked_unhealthy_unit_first(
        conn, cluster, mistral):
    before = cluster.members()
    # The newest member: Heat alone would remove the oldest.
    victim = sorted(before, key=lambda n: before[n][0])[-1]
    unit = cluster.unit(victim)
    plan = plan_for(conn, cluster, -1, victims=[unit.key])
    done = finish(mistral, mistral.start(str(uuid.uuid4()), cluster.id,
                                         [unit], "cloud test", scale=plan).id)
    assert done.state is ExecState.SUCCESS, done
    after = cluster.members()
    assert set(after) == set(before) - {victim}
    for name in after:
        assert after[name][0] == before[name][0]
    assert done.output["result"]["removed"] == [unit.key]


def test_heal_and_scale_out_are_one_update(conn, cluster, mistral):
    before = cluster.members()
    sick = sorted(before)[0]
    unit = cluster.unit(sick)
    plan = plan_for(conn, cluster, +1)
    done = finish(mistral, mistral.start(str(uuid.uuid4()), cluster.id,
                                         [unit], "cloud test", scale=plan).id)
    assert done.state is ExecState.SUCCESS, done
    after = cluster.members()
    assert len(after) == 4
    assert after[sick][0] != before[sick][0]
    for name in before:
        if name != sick:
            assert after[name][0] == before[name][0]
    (replaced,) = done.output["result"]["replaced"]
    assert replaced["resource_name"] == sick


def test_scale_out_by_signal(conn, cluster, mistral):
    plan = plan_for(conn, cluster, +1, method=ScaleMethod.SIGNAL)
    done = finish(mistral, mistral.start(str(uuid.uuid4()), cluster.id, [],
                                         "cloud test", scale=plan).id)
    assert done.state is ExecState.SUCCESS, done
    assert len(cluster.members()) == 4


def test_heal_and_scale_asked_within_a_second_both_happen_in_order(
        conn, cluster, mistral, tmp_path):
    """Through the healer: one stack operation, no 409, every unit
    accounted for, checked from Heat."""
    healer = cloud_healer(conn, mistral, tmp_path,
                          Policy(coalesce_window=1.0, unit_grace=0),
                          groups=True)
    ledger = healer.ledger
    before = cluster.members()
    sick = sorted(before)[0]
    healer.submit(heal_request(cluster.unit(sick)))
    time.sleep(0.5)
    assert [d.reason for d in healer.scale(ScaleRequest(
        group=ref(cluster), delta=1, source="test", manual=True))] == [
        Reason.SCALE_OUT]
    seen: list = []

    def settled():
        seen.extend(healer.tick())
        return Reason.SCALE_SUCCEEDED in [d.reason for d in seen]

    wait_for("the merged operation", settled, timeout=300, every=1)
    reasons = [d.reason for d in seen]
    assert reasons.count(Reason.COALESCED) == 1
    assert Reason.EXECUTION_SUCCEEDED in reasons
    assert Reason.DISPATCH_FAILED not in reasons
    after = cluster.members()
    assert len(after) == 4
    assert after[sick][0] != before[sick][0]
    assert all(s.endswith("_COMPLETE") for _, s in after.values())
    with ledger.transaction() as tx:
        assert tx.open_scales() == [] and tx.open_batches() == []


def test_a_scale_in_never_removes_a_unit_whose_heal_is_in_flight(
        conn, cluster, mistral, tmp_path):
    """A scale-in asked while a unit's heal runs waits for it (STACK_BUSY),
    then removes another member: the healed unit keeps its place in the
    group, checked from Heat's resource list throughout."""
    healer = cloud_healer(conn, mistral, tmp_path,
                          Policy(coalesce_window=0.5, unit_grace=0),
                          groups=True)
    before = cluster.members()
    sick = sorted(before)[0]
    healer.submit(heal_request(cluster.unit(sick)))
    seen: list = []
    present: list[bool] = []

    def reached(reason):
        def check():
            seen.extend(healer.tick())
            present.append(sick in cluster.members())
            return reason in [d.reason for d in seen]
        return check

    wait_for("the heal in flight", reached(Reason.BATCH_DISPATCHED),
             timeout=60, every=0.5)
    assert [d.reason for d in healer.scale(ScaleRequest(
        group=ref(cluster), delta=-1, source="test", manual=True))] == [
        Reason.SCALE_IN]
    wait_for("the scale-in", reached(Reason.SCALE_SUCCEEDED), timeout=300,
             every=1)
    reasons = [d.reason for d in seen]
    assert Reason.STACK_BUSY in reasons
    heal_done = reasons.index(Reason.EXECUTION_SUCCEEDED)
    assert heal_done < reasons.index(Reason.SCALE_SUCCEEDED)
    assert Reason.REMOVED_BY_SCALE_IN not in reasons
    assert all(present), "the unit being healed left the group"
    after = cluster.members()
    assert len(after) == 2 and sick in after
    assert after[sick][0] != before[sick][0]          # healed, not removed
    (kept,) = set(after) - {sick}
    assert after[kept][0] == before[kept][0]
