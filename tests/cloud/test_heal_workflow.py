"""The shipped heal workflow in a real Mistral against a real Heat and Nova."""

from __future__ import annotations

import uuid

import pytest

from tests.cloud.helpers import Cluster, finish, wait_for
from vitrage_selfheal.dispatch.base import ExecState


@pytest.fixture
def cluster(conn):
    c = Cluster(conn)
    yield c
    c.delete()


def test_heal_replaces_exactly_the_marked_unit(cluster, mistral):
    before = cluster.members()
    victim = sorted(before)[0]
    started = mistral.start(str(uuid.uuid4()), cluster.id,
                            [cluster.unit(victim)], "cloud test")
    done = finish(mistral, started.id)
    assert done.state is ExecState.SUCCESS, done
    replaced = done.output["result"]["replaced"]
    assert [r["resource_name"] for r in replaced] == [victim]
    after = cluster.members()
    assert after[victim][0] != before[victim][0]
    for name in before:
        assert after[name][1].endswith("_COMPLETE")
        if name != victim:
            assert after[name][0] == before[name][0]
    assert cluster.status() == "UPDATE_COMPLETE"


def test_repeated_dispatch_returns_the_existing_execution(cluster, mistral,
                                                          conn):
    execution_id = str(uuid.uuid4())
    unit = cluster.unit(sorted(cluster.members())[1])
    first = mistral.start(execution_id, cluster.id, [unit], "once")
    again = mistral.start(execution_id, cluster.id, [unit], "once")
    assert first.id == again.id == execution_id
    finish(mistral, execution_id)
    listed = conn.session.get(
        f"{mistral.endpoint}/executions?workflow_name="
        f"selfheal.heal_units&limit=1000").json()["executions"]
    assert sum(1 for e in listed if e["id"] == execution_id) == 1
    # Even after it finished, the same id gives the same execution back.
    later = mistral.start(execution_id, cluster.id, [unit], "once")
    assert later.id == execution_id and later.state is ExecState.SUCCESS


def test_heal_waits_while_the_stack_is_locked_then_heals(cluster, mistral,
                                                         conn):
    before = cluster.members()
    victim = sorted(before)[0]
    unit = cluster.unit(victim)
    # A scale-out holds the stack (UPDATE_IN_PROGRESS) when the heal starts.
    # PATCH = `stack update --existing` (openstacksdk's update is a PUT).
    answer = conn.orchestration.patch(
        f"/stacks/{cluster.name}/{cluster.id}",
        json={"parameters": {"size": 4}})
    assert answer.status_code == 202, answer.text
    wait_for("the scale-out running", lambda: cluster.status() ==
             "UPDATE_IN_PROGRESS", timeout=30, every=0.1)
    started = mistral.start(str(uuid.uuid4()), cluster.id, [unit], "locked")
    done = finish(mistral, started.id)
    assert done.state is ExecState.SUCCESS, done
    after = cluster.members()
    assert len(after) == 4
    assert after[victim][0] != before[victim][0]


def test_failed_update_gives_a_structured_failure(cluster, mistral, conn):
    victim = sorted(cluster.members())[0]
    unit = cluster.unit(victim)
    project = conn.current_project_id
    quota = conn.get_compute_quotas(project)
    # No room for the replacement server: Heat's update fails.
    conn.set_compute_quotas(project, instances=0)
    try:
        started = mistral.start(str(uuid.uuid4()), cluster.id, [unit],
                                "no quota")
        done = finish(mistral, started.id)
    finally:
        conn.set_compute_quotas(project, instances=quota.instances)
    assert done.state is ExecState.ERROR
    failure = done.output["failure"]
    assert failure["step"]
    assert failure["stack_status"] == "UPDATE_FAILED", failure
