"""Heals run through a Keystone trust of a non-admin stack owner, on the
real Keystone, Heat, Mistral and Nova: `vitrage-selfheal trust create` as
the owner, a heal under the trust, the owner revokes it (TRUST_INVALID,
nothing started, nothing lost), a new trust releases and heals."""

from __future__ import annotations

import json

import openstack
import pytest

from tests.cloud.helpers import Cluster, cloud_healer, heal_request, wait_for
from tests.cloudfixtures import WORKFLOW_INPUT
from vitrage_selfheal.cli.main import main
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.dispatch.mistral import MistralDispatcher
from vitrage_selfheal.dispatch.trusts import TrustSessions
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import Reason


@pytest.fixture
def owner(devcloud):
    return openstack.connect(cloud="devcloud-demo")


@pytest.fixture
def cluster(owner):
    c = Cluster(owner)
    yield c
    c.delete()


def heal(healer, cluster, name):
    return healer.submit(heal_request(cluster.unit(name)))


def run_until(healer, reason, seen=None, timeout=240):
    seen = [] if seen is None else seen

    def reached():
        seen.extend(healer.tick())
        return reason in [d.reason for d in seen]

    wait_for(reason.value, reached, timeout=timeout, every=1)
    return seen


def test_heals_run_as_the_owner_and_a_revoked_trust_holds(
        conn, mistral, owner, cluster, tmp_path, capsys):
    # `mistral`: the shipped workflows are installed (public: the
    # executions run in the owner's project).
    assert "admin" not in [r for r in owner.session.auth.get_access(
        owner.session).role_names]
    url = f"sqlite:///{tmp_path}/ledger.db"
    ledger = Ledger(url)
    ledger.upgrade()
    conf_file = tmp_path / "selfheal.conf"
    conf_file.write_text(f"[selfheal]\nledger_url = {url}\n"
                         f"[openstack]\ncloud = devcloud\n")
    cli = ["--config-file", str(conf_file)]

    def trust_create():
        assert main(cli + ["trust", "create", "--stack", cluster.id,
                           "--os-cloud", "devcloud-demo"]) == 0
        return capsys.readouterr().out

    assert "delegates to" in trust_create()
    endpoint = conn.session.get_endpoint(service_type="workflowv2",
                                         interface="public")
    mistral = MistralDispatcher(conn.session, endpoint,
                                workflow_input=WORKFLOW_INPUT,
                                trusts=TrustSessions.from_connection(conn))
    healer = cloud_healer(conn, mistral, tmp_path, Policy(
        coalesce_window=0.5, cooldown=0, unit_grace=0))
    names = sorted(cluster.members())
    before = cluster.members()
    heal(healer, cluster, names[0])
    run_until(healer, Reason.EXECUTION_SUCCEEDED)
    after = cluster.members()
    assert after[names[0]][0] != before[names[0]][0]
    # Mistral ran it in the owner's project: the owner sees the execution.
    owner_mistral = MistralDispatcher(owner.session, endpoint)
    with ledger.transaction() as tx:
        (dispatched,) = tx.decisions(reason="BATCH_DISPATCHED")
        (attempt,) = tx.attempts(dispatched.batch_id)
        execution_id = attempt.execution_id
    assert owner_mistral.get(execution_id).state.value == "SUCCESS"

    # The owner revokes the trust: the next heal is held, nothing starts.
    with ledger.transaction() as tx:
        trust_id = tx.trust_for(cluster.id).trust_id
    owner.identity.delete_trust(trust_id)
    heal(healer, cluster, names[1])
    run_until(healer, Reason.TRUST_INVALID, timeout=60)
    assert main(cli + ["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [h["kind"] for h in status["holds"]] == ["trust"]
    assert cluster.members()[names[1]] == after[names[1]]

    # A new trust releases it: healed, under the new trust.
    assert "TRUST_INVALID hold is lifted" in trust_create()
    seen = run_until(healer, Reason.EXECUTION_SUCCEEDED)
    assert Reason.DISPATCH_FAILED not in [d.reason for d in seen]
    assert cluster.members()[names[1]][0] != after[names[1]][0]
    # Only ids in the ledger: no password of the service or the owner.
    data = (tmp_path / "ledger.db").read_bytes()
    for cloud in ("devcloud", "devcloud-demo"):
        secret = openstack.config.OpenStackConfig().get_one(
            cloud).auth["password"]
        assert secret.encode() not in data
