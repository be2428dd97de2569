"""End-to-end smoke test of the devcloud (run by tools/devcloud-smoke).

With the admin cloud `devcloud`:
  1. `openstack stack create` an AutoScalingGroup of 3 units (nested
     template, one real NIC-less OS::Nova::Server each) -> CREATE_COMPLETE;
  2. mark one member unhealthy in the group's nested stack, then
     `stack update --existing` -> only that unit (and its server) replaced;
  3. `openstack server delete` of another unit's server out of band ->
     `compute.instance.delete.end` observed on the bus (exchange nova,
     topic vitrage_notifications), like Heat's orchestration.stack.*
     notifications (exchange heat, same topic);
  4. a Mistral workflow with std.noop -> SUCCESS;
  5. mistral-extra's heat.stacks_get, in a workflow and as an ad-hoc
     action, returns the stack from Heat (Mistral authenticates the caller
     through Keystone).
Every wait is bounded.  Exit 0 when all checks pass.
"""

import argparse
import configparser
import json
import os
import subprocess
import sys
import threading
import time
import uuid
import warnings

# oslo.service warns at import time that eventlet is deprecated: noise here.
warnings.filterwarnings("ignore", category=DeprecationWarning)

import kombu  # noqa: E402
import openstack  # noqa: E402
import oslo_messaging as om  # noqa: E402
from heatclient import client as heat_client  # noqa: E402
from mistralclient.api import client as mistral_client  # noqa: E402
from oslo_config import cfg  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TIMINGS = []


class SmokeFailure(Exception):
    pass


def say(msg):
    print(f"smoke: {msg}", flush=True)


class step:
    """Context manager: print, time and record one step."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        say(f"{self.name} ...")
        self.t = time.monotonic()
        return self

    def __exit__(self, exc_type, exc, tb):
        dt = time.monotonic() - self.t
        if exc_type is None:
            TIMINGS.append((self.name, dt))
            say(f"{self.name}: ok ({dt:.1f}s)")
        else:
            say(f"{self.name}: FAILED after {dt:.1f}s: {exc}")
        return False


def wait(predicate, timeout, what, interval=0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SmokeFailure(f"timed out after {timeout}s: {what}")
        time.sleep(interval)


def cli(*args, timeout=120):
    """Run the openstack CLI (admin cloud from the environment)."""
    cmd = ["openstack", *args]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SmokeFailure(f"{' '.join(cmd)}: no answer in {timeout}s") \
            from None
    if res.returncode != 0:
        raise SmokeFailure(f"{' '.join(cmd)} failed ({res.returncode}): "
                           f"{res.stderr.strip()[-2000:]}")
    return res.stdout


def show_failed_events(stack):
    """Print the FAILED events of a stack and its nested stacks."""
    ev = subprocess.run(
        ["openstack", "stack", "event", "list", "--nested-depth", "3", stack],
        capture_output=True, text=True, timeout=60)
    for line in ev.stdout.splitlines():
        if "FAILED" in line:
            say(f"  event: {line}")


class Bus:
    """A short-lived oslo.messaging notification listener.

    Listens on topic `vitrage_notifications` of exchanges nova and heat
    with a pool of its own (a queue named after the pool), so it takes
    nothing from other consumers; the queue is deleted on close.
    """

    TOPIC = "vitrage_notifications"

    def __init__(self, url):
        self.url = url
        self.pool = f"devcloud-smoke-{uuid.uuid4().hex[:8]}"
        self.events = []
        self.cond = threading.Condition()
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        self.transport = om.get_notification_transport(conf, url=url)
        targets = [om.Target(topic=self.TOPIC, exchange=ex)
                   for ex in ("nova", "heat")]
        self.listener = om.get_notification_listener(
            self.transport, targets, [self], executor="threading",
            pool=self.pool)

    # oslo.messaging endpoint (priority info is what Nova and Heat use)
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self.cond:
            self.events.append((time.monotonic(), publisher_id, event_type,
                                payload))
            self.cond.notify_all()

    def start(self):
        self.listener.start()
        with kombu.Connection(self.amqp_url()) as conn:
            wait(lambda: self._queue_exists(conn), 10, f"queue {self.pool}",
                 interval=0.2)

    def amqp_url(self):
        return self.url.replace("rabbit://", "amqp://", 1)

    def _queue_exists(self, conn):
        ch = conn.channel()
        try:
            ch.queue_declare(queue=self.pool, passive=True)
            return True
        except conn.channel_errors:
            return False
        finally:
            try:
                ch.close()
            except Exception:
                pass

    def wait_for(self, event_type, match, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events:
                    if ev[2] == event_type and match(ev[3]):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({e[2] for e in self.events})
                    raise SmokeFailure(
                        f"no {event_type} on the bus within {timeout}s "
                        f"(seen: {', '.join(seen) or 'nothing'})")
                self.cond.wait(left)

    def close(self):
        try:
            self.listener.stop()
            self.listener.wait()
        finally:
            self.transport.cleanup()
            with kombu.Connection(self.amqp_url()) as conn:
                try:
                    conn.default_channel.queue_delete(self.pool)
                except Exception as exc:
                    say(f"could not delete queue {self.pool}: {exc}")


def stack_status(heat, stack_id):
    return heat.stacks.get(stack_id).stack_status


def wait_stack(heat, stack_id, want, timeout):
    def done():
        st = stack_status(heat, stack_id)
        if st.endswith("_FAILED"):
            reason = heat.stacks.get(stack_id).stack_status_reason
            raise SmokeFailure(f"stack {stack_id} is {st}: {reason}")
        return st == want
    wait(done, timeout, f"stack {want}")


def members(heat, group_stack_id):
    """{member resource name: (unit stack id, server id)} of the group."""
    out = {}
    for res in heat.resources.list(group_stack_id):
        unit_stack = res.physical_resource_id
        server = heat.resources.get(unit_stack, "server").physical_resource_id
        out[res.resource_name] = (unit_stack, server)
    return out


def mistral_execution(mistral, workflow, wf_input, timeout):
    ex = mistral.executions.create(workflow, workflow_input=wf_input)

    def finished():
        state = mistral.executions.get(ex.id).state
        return state if state in ("SUCCESS", "ERROR", "CANCELLED") else None

    state = wait(finished, timeout, f"execution of {workflow}", interval=0.2)
    ex = mistral.executions.get(ex.id)
    if state != "SUCCESS":
        raise SmokeFailure(f"{workflow}: execution {ex.id} ended {state}: "
                           f"{ex.state_info}")
    return json.loads(ex.output or "{}")


WORKFLOWS = """---
version: '2.0'

devcloud_smoke_noop:
  tasks:
    noop:
      action: std.noop

devcloud_smoke_heat:
  input:
    - stack_id
  output:
    stack_status: <% $.stack_status %>
    stack_name: <% $.stack_name %>
  tasks:
    get_stack:
      action: heat.stacks_get stack_id=<% $.stack_id %>
      publish:
        stack_status: <% task().result.stack_status %>
        stack_name: <% task().result.stack_name %>
"""


def put_workflows(mistral):
    names = {w.name for w in mistral.workflows.list()}
    if {"devcloud_smoke_noop", "devcloud_smoke_heat"} & names:
        mistral.workflows.update(WORKFLOWS)
    else:
        mistral.workflows.create(WORKFLOWS)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--keep", action="store_true",
                   help="leave the stack and workflows in place")
    p.add_argument("--cloud", default=os.environ.get("OS_CLOUD", "devcloud"),
                   help="clouds.yaml entry (default: devcloud, the admin)")
    args = p.parse_args()

    dc = os.environ["DEVCLOUD_DIR"]
    nova_conf = configparser.ConfigParser(interpolation=None)
    nova_conf.read(os.path.join(dc, "etc", "nova", "nova.conf"))
    transport_url = nova_conf["DEFAULT"]["transport_url"]

    conn = openstack.connect(cloud=args.cloud)
    os.environ["OS_CLOUD"] = args.cloud  # for the openstack CLI
    heat = heat_client.Client("1", session=conn.session)
    mistral = mistral_client.client(
        session=conn.session,
        mistral_url=conn.session.get_endpoint(service_type="workflowv2",
                                              interface="public"))
    stack_name = f"devcloud-smoke-{int(time.time())}"
    t_all = time.monotonic()

    bus = Bus(transport_url)
    with step("listen on topic vitrage_notifications, exchanges nova+heat"):
        bus.start()
    stack_id = None
    try:
        with step("openstack stack create (ASG of 3 units), CREATE_COMPLETE"):
            # The CLI's --wait polls every 5 s: poll faster ourselves.
            cli("stack", "create", "--timeout", "5",
                "-t", os.path.join(HERE, "smoke-asg.yaml"), stack_name)
            stack_id = heat.stacks.get(stack_name).id
            try:
                wait_stack(heat, stack_id, "CREATE_COMPLETE", 300)
            except SmokeFailure:
                show_failed_events(stack_name)
                raise
            group_stack = heat.resources.get(
                stack_id, "group").physical_resource_id
            before = members(heat, group_stack)
            if len(before) != 3:
                raise SmokeFailure(f"expected 3 members, got {len(before)}")
            for _, server in before.values():
                s = conn.compute.get_server(server)
                if s.status != "ACTIVE":
                    raise SmokeFailure(f"server {server} is {s.status}")
            say(f"stack {stack_id}: members {sorted(before)}")

        with step("orchestration.stack.create.end seen (exchange heat)"):
            bus.wait_for(
                "orchestration.stack.create.end",
                lambda pl: pl.get("stack_name") == stack_name, 30)

        victim = sorted(before)[0]
        with step(f"mark member {victim} unhealthy + stack update --existing"):
            heat.resources.mark_unhealthy(group_stack, victim, True,
                                          "devcloud smoke test")
            heat.stacks.update(stack_id, existing=True)
            wait(lambda: stack_status(heat, stack_id) != "CREATE_COMPLETE",
                 30, "the update to begin", interval=0.2)
            wait_stack(heat, stack_id, "UPDATE_COMPLETE", 300)
            after = members(heat, group_stack)
            replaced = {n for n in set(before) | set(after)
                        if before.get(n) != after.get(n)}
            # Heat replaces the member in place (same name, new nested
            # stack and server) or under a new name: either way only one.
            changed_servers = ({s for _, s in before.values()}
                               - {s for _, s in after.values()})
            if len(after) != 3 or changed_servers != {before[victim][1]}:
                raise SmokeFailure(
                    f"expected only {victim} replaced; before={before} "
                    f"after={after}")
            say(f"replaced: {sorted(replaced)}; server {before[victim][1]} "
                f"-> new; other servers unchanged")

        survivor = sorted(n for n in after if n != victim and n in before)[0]
        server = after[survivor][1]
        with step("openstack server delete, compute.instance.delete.end"):
            say(f"deleting server {server} of member {survivor}")
            cli("server", "delete", server)
            t = time.monotonic()
            ev = bus.wait_for("compute.instance.delete.end",
                              lambda pl: pl.get("instance_id") == server, 30)
            say(f"notification {ev[2]} from {ev[1]} "
                f"{ev[0] - t:+.2f}s after the CLI returned")

        with step("Mistral: upload the smoke workflows"):
            put_workflows(mistral)

        with step("Mistral workflow std.noop -> SUCCESS"):
            mistral_execution(mistral, "devcloud_smoke_noop", {}, 60)

        with step("Mistral heat.stacks_get (mistral-extra) in a workflow"):
            out = mistral_execution(mistral, "devcloud_smoke_heat",
                                    {"stack_id": stack_id}, 60)
            if out.get("stack_name") != stack_name:
                raise SmokeFailure(f"unexpected workflow output {out}")
            say(f"workflow output: {out}")

        with step("Mistral heat.stacks_get as an ad-hoc action"):
            ax = mistral.action_executions.create(
                "heat.stacks_get", {"stack_id": stack_id}, run_sync=True,
                save_result=True)
            if ax.state != "SUCCESS":
                raise SmokeFailure(
                    f"action {ax.id} {ax.state}: {ax.state_info}")
            result = json.loads(ax.output).get("result", {})
            if result.get("id") != stack_id:
                raise SmokeFailure(
                    f"unexpected action output {ax.output[:500]}")
    finally:
        if stack_id and not args.keep:
            with step("clean up (stack delete, workflows)"):
                try:
                    heat.stacks.delete(stack_id)
                    wait(lambda: _gone(heat, stack_id), 120, "stack delete")
                finally:
                    for wf in ("devcloud_smoke_noop", "devcloud_smoke_heat"):
                        try:
                            mistral.workflows.delete(wf)
                        except Exception:
                            pass
        bus.close()

    say(f"PASSED in {time.monotonic() - t_all:.1f}s")
    for name, dt in TIMINGS:
        say(f"  {dt:6.1f}s  {name}")
    return 0


def _gone(heat, stack_id):
    try:
        st = heat.stacks.get(stack_id).stack_status
    except Exception:
        return True
    if st == "DELETE_FAILED":
        raise SmokeFailure(f"stack {stack_id} DELETE_FAILED")
    return st == "DELETE_COMPLETE"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SmokeFailure as exc:
        say(f"FAILED: {exc}")
        sys.exit(1)
