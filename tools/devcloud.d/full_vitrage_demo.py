"""The heal path through STOCK Vitrage services (tools/devcloud-vitrage).

    var/devcloud/vitrage-venv/bin/python tools/devcloud.d/full_vitrage_demo.py
        [--faults 2] [--keep]

Needs `tools/devcloud start` and `tools/devcloud-vitrage start`.
vitrage-graph, vitrage-notifier and vitrage-api are Vitrage's own programs;
vitrage-selfheal is in them only through vitrage.conf (the `selfheal`
notifier plugin, the `heat.unit` datasource, the value tables).  This script:

1. installs the heal workflow into Mistral and adds the templates through
   the Vitrage API (python-vitrageclient, as `vitrage template add`);
2. creates a 3-unit cluster (vitrage_selfheal/democloud/cluster.yaml) and
   waits until `vitrage topology show` has its 3 heat.unit vertices;
3. fault 1: deletes one unit's server out of band; prints `vitrage rca show`
   of the deduced alarm; waits until the ledger shows EXECUTION_SUCCEEDED;
4. fault 2 (with --faults 2): starts a second vitrage-notifier process
   (`DEVCLOUD_VITRAGE_NOTIFIERS=2 tools/devcloud-vitrage start`) and deletes
   another unit's server: both processes tick on the shared ledger.

Each fault passes only if exactly one execution (one batch) healed exactly
that unit, Heat replaced that unit's server and left the others alone.
Exit 0 when every check held.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Any, Optional

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DC = pathlib.Path(os.environ.get("DEVCLOUD_DIR", ROOT / "var" / "devcloud"))
SELFHEAL_CONF = DC / "etc" / "vitrage" / "selfheal.conf"
DEMO = ROOT / "vitrage_selfheal" / "democloud"
STACK_PREFIX = "selfheal-fullvitrage"
ALARM_PREFIX = "selfheal.heal"

sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

# One bounded wait for both demos (and the same error to catch).
from vitrage_selfheal.democloud.run import (  # noqa: E402
    DemoError,
    physical_ids,
    wait_for,
)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class FullVitrageDemo:
    def __init__(self, args: argparse.Namespace) -> None:
        import openstack
        import vitrage_services

        from vitrage_selfheal.app import load_config
        from vitrage_selfheal.ledger.store import Ledger

        os.environ.setdefault("OS_CLIENT_CONFIG_FILE",
                              str(DC / "clouds.yaml"))
        self.args = args
        self.conn = openstack.connect(cloud="devcloud")
        self.vc = vitrage_services.client()
        self.services = vitrage_services
        conf = load_config([str(SELFHEAL_CONF)])
        self.ledger = Ledger(conf.selfheal.ledger_url)
        self.failures: list[str] = []
        self.unit_vids: dict[str, str] = {}
        self.members: dict = {}     # unit key -> model.Unit
        self._seen_other = False
        self.figures: list[dict] = []

    # -- set-up -------------------------------------------------------------
    def setup(self) -> None:
        from vitrage_selfheal.dispatch.mistral import install_workflows

        endpoint = self.conn.session.get_endpoint(service_type="workflowv2",
                                                  interface="public")
        names = install_workflows(self.conn.session, endpoint)
        say(f"workflows in Mistral: {', '.join(names)}")
        t = time.monotonic()
        rows = self.services.add_templates(
            self.vc, self.services.template_files([]))
        say(f"templates ACTIVE in Vitrage ({time.monotonic() - t:.1f}s): "
            + ", ".join(sorted(r["name"] for r in rows)))

    def create_cluster(self) -> None:
        orch = self.conn.orchestration
        for old in orch.stacks():
            if old.name.startswith(STACK_PREFIX):
                say(f"deleting {old.name} from an earlier run")
                orch.delete_stack(old)
        self.stack_name = f"{STACK_PREFIX}-{time.strftime('%H%M%S')}"
        t = time.monotonic()
        stack = orch.create_stack(
            name=self.stack_name,
            template=(DEMO / "cluster.yaml").read_text(),
            files={"unit.yaml": (DEMO / "unit.yaml").read_text()},
            parameters={"size": 3})
        self.stack_id = stack.id
        wait_for("CREATE_COMPLETE", self._created, timeout=180)
        say(f"cluster {self.stack_name} CREATE_COMPLETE in "
            f"{time.monotonic() - t:.1f}s")
        t = time.monotonic()
        self.units = wait_for("3 heat.unit vertices in `vitrage topology "
                              "show`", self.graph_units, timeout=120)
        say(f"3 units in Vitrage's topology after {time.monotonic() - t:.1f}s")
        for key, servers in sorted(self.units.items()):
            say(f"  unit {key}: server {', '.join(servers)}")

    def _created(self) -> bool:
        status = self.conn.orchestration.get_stack(self.stack_id).status
        if status == "CREATE_FAILED":
            raise DemoError("cluster CREATE_FAILED (var/devcloud/logs/"
                            "heat-engine.log)")
        return status == "CREATE_COMPLETE"

    # -- reading Vitrage through its API -----------------------------------
    def graph_units(self) -> dict[str, list[str]]:
        """unit key -> live server ids, from `vitrage topology show`."""
        from vitrage_selfheal.model import Unit

        graph = self.vc.topology.get(all_tenants=True)
        self.vertices: dict[str, dict] = {}     # unit key -> its vertex
        nodes = graph.get("nodes", [])
        by_index = dict(enumerate(nodes))
        by_id = {n.get("id"): n for n in nodes}
        by_vid = {n.get("vitrage_id"): n for n in nodes}

        def node(ref: Any) -> dict:
            if isinstance(ref, int):
                return by_index.get(ref, {})
            return by_vid.get(ref) or by_id.get(ref) or {}

        units: dict[str, list[str]] = {}
        vid_to_key: dict[str, str] = {}
        for n in nodes:
            if (n.get("vitrage_type") == "heat.unit"
                    and not n.get("vitrage_is_deleted")
                    and n.get("root_stack_id") == self.stack_id):
                unit = Unit(self.stack_id, n.get("stack_id"),
                            n.get("resource_name"))
                key = unit.key
                self.members[key] = unit
                self.vertices[key] = n
                units[key] = []
                vid_to_key[n.get("vitrage_id")] = key
        for link in graph.get("links", graph.get("edges", [])):
            if link.get("vitrage_is_deleted"):
                continue
            src, dst = node(link.get("source")), node(link.get("target"))
            for a, b in ((src, dst), (dst, src)):
                key = vid_to_key.get(a.get("vitrage_id"))
                if (key and b.get("vitrage_type") == "nova.instance"
                        and not b.get("vitrage_is_deleted")):
                    units[key].append(b.get("id"))
        units = {k: sorted(set(v)) for k, v in units.items()}
        self.unit_vids.update({k: v for v, k in vid_to_key.items()})
        return units if len(units) == 3 and all(units.values()) else {}

    def deduced_alarm(self, unit_key: str) -> Optional[dict]:
        """The active selfheal.heal alarm on the unit's vertex, if any."""
        vid = self.unit_vids.get(unit_key)
        alarms = self.vc.alarm.list(vitrage_id="all", all_tenants=True)
        for alarm in alarms:
            if (str(alarm.get("name", "")).startswith(ALARM_PREFIX)
                    and alarm.get("vitrage_resource_id") == vid):
                return alarm
        if alarms and not self._seen_other:
            self._seen_other = True
            say("other alarms: " + json.dumps(
                [(a.get("name"), a.get("vitrage_resource_id"))
                 for a in alarms]))
        return None

    def print_rca(self, alarm: dict) -> None:
        rca = self.vc.rca.get(alarm["vitrage_id"], all_tenants=True)
        nodes = rca.get("nodes", [])
        say(f"`vitrage rca show {alarm['vitrage_id']}`:")
        for n in nodes:
            mark = "*" if n.get("vitrage_id") == alarm["vitrage_id"] else " "
            severity = n.get("vitrage_operational_severity",
                             n.get("severity"))
            print(f"   {mark} {n.get('vitrage_type')}: {n.get('name')} "
                  f"[{severity}]"
                  f" on {n.get('vitrage_resource_type')} "
                  f"{n.get('vitrage_resource_id')}")
        for link in rca.get("links", []):
            s, t = link.get("source"), link.get("target")
            if isinstance(s, int) and isinstance(t, int):
                print(f"     {nodes[s].get('name')} --"
                      f"{link.get('relationship_type')}--> "
                      f"{nodes[t].get('name')}")
        print(json.dumps(rca, indent=1, sort_keys=True, default=str)[:3000])

    # -- reading the ledger ----------------------------------------------
    def decisions_since(self, since: float) -> list[Any]:
        from vitrage_selfheal.ledger.models import DecisionRow

        with self.ledger.transaction() as tx:
            rows = tx.decisions(stack=self.stack_id, limit=2000)
            return [r for r in rows if r.at >= since
                    and isinstance(r, DecisionRow)]

    def batches_since(self, since: float) -> list[Any]:
        import sqlalchemy as sa

        from vitrage_selfheal.ledger.models import BatchRow
        with self.ledger.transaction() as tx:
            q = sa.select(BatchRow).where(
                BatchRow.root_stack_id == self.stack_id,
                BatchRow.created_at >= since)
            rows = list(tx.s.scalars(q).all())
            for r in rows:
                tx.s.expunge(r)
            return rows

    def first(self, since: float, reason: str,
              unit: Optional[str] = None) -> Optional[float]:
        for d in self.decisions_since(since):
            if d.reason == reason and (unit is None or d.unit_key == unit):
                return d.at
        return None

    def failed(self, since: float) -> None:
        for d in self.decisions_since(since):
            if d.reason in ("EXECUTION_FAILED", "EXECUTION_STUCK",
                            "DISPATCH_FAILED", "CIRCUIT_OPEN"):
                raise DemoError(f"heal failed: {d.reason} {d.detail}")

    # -- Heat ---------------------------------------------------------------
    def physical_ids(self) -> dict[str, tuple]:
        return physical_ids(self.conn, (self.members[k] for k in self.units))

    def mistral_executions(self, since: float) -> list[dict]:
        """Heal executions Mistral holds for our root stack since `since`
        (what actually ran, whatever the ledger says)."""
        import datetime

        endpoint = self.conn.session.get_endpoint(
            service_type="workflowv2", interface="public")
        rows = self.conn.session.get(
            f"{endpoint}/executions?limit=50&sort_keys=created_at"
            f"&sort_dirs=desc&workflow_name=selfheal.heal_units"
        ).json()["executions"]
        out = []
        for e in rows:
            created = datetime.datetime.strptime(
                e["created_at"], "%Y-%m-%d %H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
            if created >= int(since) and self.stack_id in e.get("input", ""):
                out.append(e)
        return out

    def stack_status(self) -> str:
        return self.conn.orchestration.get_stack(self.stack_id).status

    # -- a fault --------------------------------------------------------------
    def delete_servers(self, title: str, victim: str) -> float:
        """The fault: the unit's servers deleted out of band (Heat does not
        notice).  Returns when it was injected (epoch seconds)."""
        servers = self.units[victim]
        injected = time.time()
        say(f"FAULT {title}: `openstack server delete` of "
            f"{', '.join(servers)} (unit {victim}) out of band")
        for server in servers:
            self.conn.compute.delete_server(server)
        return injected

    def wait_alarm(self, victim: str, injected: float,
                   timeout: float = 120) -> dict:
        """The deduced alarm on the unit, as `vitrage alarm list` has it;
        {"missed": True} if the ledger says it cleared first."""
        # The alarm lives only until Heat has replaced the unit (seconds):
        # stop looking once the ledger says it cleared.
        return wait_for(f"deduced alarm on {victim} in `vitrage alarm list`",
                        lambda: self.deduced_alarm(victim) or (
                            self.first(injected, "ALARM_CLEARED", victim)
                            and {"missed": True}), timeout=timeout, every=0.3)

    def fault(self, title: str, victim: str, timeout: float) -> None:
        from vitrage_selfheal.ledger.store import batch_units

        self.units = wait_for("3 units with servers in the topology",
                              self.graph_units, timeout=120)
        before = self.physical_ids()
        injected = self.delete_servers(title, victim)
        alarm = self.wait_alarm(victim, injected)
        t_alarm = time.time()
        if not alarm.get("missed"):
            say(f"deduced alarm '{alarm['name']}' in the Vitrage API after "
                f"{t_alarm - injected:.1f}s")
            self.print_rca(alarm)
        else:
            self.failures.append(f"{title}: the deduced alarm cleared before "
                                 f"`vitrage alarm list` showed it")
        t_dispatch = wait_for("BATCH_DISPATCHED in the ledger", lambda: (
            self.failed(injected) or self.first(injected, "BATCH_DISPATCHED",
                                                victim)), timeout=timeout)
        say(f"dispatched after {t_dispatch - injected:.1f}s")
        t_done = wait_for("EXECUTION_SUCCEEDED in the ledger", lambda: (
            self.failed(injected) or self.first(
                injected, "EXECUTION_SUCCEEDED", victim)), timeout=timeout)
        say(f"EXECUTION_SUCCEEDED for {victim} after "
            f"{t_done - injected:.1f}s")
        wait_for("UPDATE_COMPLETE", lambda: self.stack_status() in (
            "UPDATE_COMPLETE", "UPDATE_FAILED"), timeout=60)
        # Late duplicates would show up within a few ticks.
        time.sleep(3)
        batches = self.batches_since(injected)
        executions = sorted({b.execution_id for b in batches})
        healed = sorted({u for b in batches for u in batch_units(b)})
        decisions = self.decisions_since(injected)
        replicas = sorted({d.replica for d in decisions if d.replica})
        say(f"ledger: {len(batches)} batch(es), executions {executions}, "
            f"units {healed}; decisions by {len(replicas)} replica(s)")
        for d in decisions:
            print(f"   {d.at - injected:7.2f}s {d.replica:>24} "
                  f"{d.reason:<22} {d.unit_key or '-'}  {d.detail[:70]}")
        in_mistral = self.mistral_executions(injected)
        say(f"Mistral: {len(in_mistral)} heal execution(s) for the stack: "
            + ", ".join(f"{e['id']} {e['state']}" for e in in_mistral))
        if len(in_mistral) != 1 or in_mistral[0]["id"] not in executions:
            self.failures.append(f"{title}: Mistral ran {len(in_mistral)} "
                                 f"heal executions")
        if len(batches) != 1 or len(executions) != 1:
            self.failures.append(f"{title}: {len(batches)} batches, "
                                 f"{len(executions)} executions")
        if healed != [victim] and not all(victim in u for u in healed):
            self.failures.append(f"{title}: healed {healed}, not [{victim}]")
        after = self.physical_ids()
        for key, (old, _status) in before.items():
            new, status = after[key]
            if status == "CHECK_FAILED":
                self.failures.append(f"{title}: {key} left CHECK_FAILED")
            if key == victim and new == old:
                self.failures.append(f"{title}: {key} was not replaced")
            if key != victim and new != old:
                self.failures.append(f"{title}: {key} was touched")
        self.figures.append({
            "fault": title, "alarm_in_api": round(t_alarm - injected, 1),
            "dispatched": round(t_dispatch - injected, 1),
            "succeeded": round(t_done - injected, 1),
            "executions": len(executions), "replicas": replicas})

    def second_notifier(self) -> None:
        t = time.monotonic()
        env = dict(os.environ, DEVCLOUD_VITRAGE_NOTIFIERS="2")
        done = subprocess.run([str(ROOT / "tools" / "devcloud-vitrage"),
                               "start"], env=env, capture_output=True,
                              text=True, timeout=180)
        if done.returncode != 0:
            raise DemoError("starting a second vitrage-notifier failed:\n"
                            + done.stderr[-3000:])
        say(f"second vitrage-notifier process up in "
            f"{time.monotonic() - t:.1f}s (2 consumers on vitrage.graph)")

    def run(self) -> int:
        t0 = time.monotonic()
        self.setup()
        self.create_cluster()
        keys = sorted(self.units)
        try:
            self.fault("1: server deleted (1 vitrage-notifier)", keys[0],
                       timeout=self.args.timeout)
            if self.args.faults >= 2:
                self.second_notifier()
                self.fault("2: server deleted (2 vitrage-notifiers)",
                           keys[1], timeout=self.args.timeout)
        finally:
            if not self.args.keep:
                self.conn.orchestration.delete_stack(self.stack_id)
                say(f"deleting {self.stack_name}")
        print()
        for f in self.figures:
            print(json.dumps(f))
        say(f"total {time.monotonic() - t0:.1f}s")
        if self.failures:
            say("FAILED: " + "; ".join(self.failures))
            return 1
        say("all checks held: exactly one execution healed exactly the "
            "faulty unit, each time")
        return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--faults", type=int, default=2, choices=(1, 2))
    p.add_argument("--timeout", type=float, default=150,
                   help="seconds per wait on the ledger")
    p.add_argument("--keep", action="store_true",
                   help="leave the cluster in place")
    args = p.parse_args()
    try:
        return FullVitrageDemo(args).run()
    except DemoError as exc:
        say(f"FAILED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
