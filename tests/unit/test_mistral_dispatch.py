"""MistralDispatcher against a local imitation of Mistral 23's v2 API.

The imitation answers as the real API does (measured, see
shared/notes/mistral-local.md, and read in mistral/api/controllers/v2):
POST /v2/executions with a known `id` returns that execution with 201 and
ignores the body; `input`/`output`/`params` travel as JSON strings; errors
are JSON objects with a `faultstring`. The real end-to-end run is a
separate test.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import uuid
from typing import Any, Optional

import pytest
import requests
from keystoneauth1 import session as ks_session

from vitrage_selfheal import workflows
from vitrage_selfheal.dispatch.base import DispatchError, ExecState
from vitrage_selfheal.dispatch.execution_id import execution_id_for
from vitrage_selfheal.dispatch.mistral import (
    MistralDispatcher,
    description_for,
    install_workflows,
)
from vitrage_selfheal.model import Unit

ROOT = "root-1"
UNITS = (Unit(ROOT, "group-a", "member-0", physical_id="p0"),
         Unit(ROOT, "group-a", "member-2", physical_id=None))


class FakeMistral:
    """State of the imitation; the handler below serves it."""

    def __init__(self) -> None:
        self.executions: dict[str, dict[str, Any]] = {}
        self.workflows: dict[str, str] = {}
        self.known_workflows = {workflows.HEAL_WORKFLOW,
                                workflows.SCALE_WORKFLOW,
                                workflows.REMEDY_WORKFLOW}
        self.requests: list[tuple[str, str, dict, bytes]] = []
        self.queries: list[str] = []
        # path -> (status, raw body) served instead of the normal answer.
        self.forced: dict[str, tuple[int, bytes]] = {}
        self.lock = threading.Lock()
        self.endpoint = ""

    def finish(self, execution_id: str, state: str,
               output: Optional[dict] = None, state_info: str = "") -> None:
        with self.lock:
            ex = self.executions[execution_id]
            ex["state"] = state
            ex["output"] = json.dumps(output or {})
            ex["state_info"] = state_info or None

    def handle(self, method: str, path: str, headers: dict,
               body: bytes) -> tuple[int, Any]:
        path, _, query = path.partition("?")
        with self.lock:
            self.requests.append((method, path, headers, body))
            self.queries.append(query)
            if path in self.forced:
                return self.forced[path]
            if method == "POST" and path == "/v2/executions":
                return self._start(json.loads(body))
            if method == "GET" and path.startswith("/v2/executions/"):
                ex = self.executions.get(path.rsplit("/", 1)[1])
                if ex is None:
                    return 404, {"faultcode": "Client", "debuginfo": None,
                                 "faultstring": "Object not found"}
                return 200, ex
            if method == "PUT" and path.startswith("/v2/executions/"):
                return self._update(path.rsplit("/", 1)[1], json.loads(body))
            if path == "/v2/workflows" and method in ("POST", "PUT"):
                return self._workflows(method, body.decode())
            return 405, {"faultstring": f"{method} {path}"}

    def _start(self, doc: dict) -> tuple[int, Any]:
        existing = self.executions.get(doc.get("id"))
        if existing is not None:
            return 201, existing
        if doc["workflow_name"] not in self.known_workflows:
            return 404, {"faultstring": "Workflow not found"}
        ex = {"id": doc.get("id") or str(uuid.uuid4()),
              "workflow_name": doc["workflow_name"],
              "workflow_id": str(uuid.uuid4()),
              "description": doc.get("description", ""),
              "input": doc["input"] if isinstance(doc["input"], str)
              else json.dumps(doc["input"]),
              "params": json.dumps({"namespace": ""}),
              "state": "RUNNING", "state_info": None, "output": "{}",
              "created_at": "2026-01-01 00:00:00", "updated_at": None}
        self.executions[ex["id"]] = ex
        return 201, ex

    def _update(self, execution_id: str, doc: dict) -> tuple[int, Any]:
        # Like Mistral: a CANCELLED request on a finished execution is a
        # 400 "invalid state transition".
        ex = self.executions.get(execution_id)
        if ex is None:
            return 404, {"faultstring": "Object not found"}
        if ex["state"] not in ("RUNNING", "IDLE", "PAUSED"):
            return 400, {"faultstring": f"Can't change state from "
                                        f"{ex['state']} to {doc['state']}"}
        ex["state"], ex["state_info"] = doc["state"], doc.get("state_info")
        return 200, ex

    def _workflows(self, method: str, text: str) -> tuple[int, Any]:
        # The real API parses the YAML; the top-level keys are the names.
        names = [line[:-1] for line in text.splitlines()
                 if line.endswith(":") and not line.startswith((" ", "#"))]
        if method == "POST" and any(n in self.workflows for n in names):
            return 409, {"faultstring": "Duplicate entry for WorkflowDef"}
        if method == "PUT" and not all(n in self.workflows for n in names):
            return 404, {"faultstring": "Workflow not found"}
        for name in names:
            self.workflows[name] = text
        return (201 if method == "POST" else 200), {
            "workflows": [{"name": n, "definition": text} for n in names]}


def _handler(fake: FakeMistral) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer = fake.handle(self.command, self.path,
                                         dict(self.headers), body)
            raw = answer if isinstance(answer, bytes) else json.dumps(
                answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake():
    state = FakeMistral()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             _handler(state))
    # A short poll interval keeps shutdown() quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    state.endpoint = f"http://127.0.0.1:{server.server_address[1]}/v2"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def dispatcher(fake):
    with requests.Session() as session:
        yield MistralDispatcher(session, fake.endpoint, timeout=5,
                                workflow_input={"poll_delay": 1})


def _exec_id(attempt: int = 1) -> str:
    return execution_id_for(ROOT, [u.key for u in UNITS], ["alarm@x"],
                            attempt)


def test_start_sends_id_workflow_input_and_description(fake, dispatcher):
    ex = dispatcher.start(_exec_id(), ROOT, UNITS, "host down")
    assert (ex.id, ex.state) == (_exec_id(), ExecState.RUNNING)
    method, path, headers, body = fake.requests[-1]
    sent = json.loads(body)
    assert (method, path) == ("POST", "/v2/executions")
    assert sent["id"] == _exec_id()
    assert sent["workflow_name"] == "selfheal.heal_units"
    assert sent["description"] == description_for(ROOT)
    # Mistral's JsonType takes the input as a JSON string (as the client).
    assert json.loads(sent["input"]) == {
        "root_stack_id": ROOT, "reason": "host down", "poll_delay": 1,
        "units": [
            {"stack_id": "group-a", "resource_name": "member-0",
             "physical_id": "p0"},
            {"stack_id": "group-a", "resource_name": "member-2",
             "physical_id": None}]}


def test_a_scale_starts_the_scale_workflow_with_its_plan(fake, dispatcher):
    from vitrage_selfheal.model import GroupRef, ScaleMethod, ScalePlan

    plan = ScalePlan(group=GroupRef(ROOT, "group-a", ROOT, "asg"),
                     method=ScaleMethod.CAPACITY, size_before=3, target=2,
                     capacity_parameter="count",
                     victims=("group-a/member-0",))
    ex = dispatcher.start(_exec_id(), ROOT, UNITS, "scale", scale=plan)
    assert ex.state is ExecState.RUNNING
    sent = json.loads(fake.requests[-1][3])
    assert sent["workflow_name"] == "selfheal.scale"
    wf_input = json.loads(sent["input"])
    assert wf_input["group"] == {"stack_id": "group-a",
                                 "parent_stack_id": ROOT,
                                 "resource_name": "asg"}
    assert (wf_input["method"], wf_input["size_before"], wf_input["target"],
            wf_input["capacity_parameter"], wf_input["victims"]) == (
        "capacity", 3, 2, "count", ["group-a/member-0"])
    assert len(wf_input["units"]) == 2


def test_repeated_start_returns_the_existing_execution(fake, dispatcher):
    first = dispatcher.start(_exec_id(), ROOT, UNITS, "host down")
    fake.finish(first.id, "SUCCESS", {"result": {"replaced": []}})
    again = dispatcher.start(_exec_id(), ROOT, tuple(reversed(UNITS)),
                             "another reason")
    assert len(fake.executions) == 1
    assert again.id == first.id
    # The answer is the finished execution, not a new start.
    assert again.state is ExecState.SUCCESS
    assert again.output == {"result": {"replaced": []}}


@pytest.mark.parametrize("field, value, named", [
    ("workflow_name", "other.workflow", "workflow_name 'other.workflow'"),
    ("input", json.dumps({"root_stack_id": "root-2", "units": [
        {"stack_id": "group-a", "resource_name": "member-0"},
        {"stack_id": "group-a", "resource_name": "member-2"}]}),
     "root_stack_id 'root-2'"),
    ("input", json.dumps({"root_stack_id": ROOT, "units": [
        {"stack_id": "group-a", "resource_name": "member-1"}]}),
     "units ['group-a/member-1']"),
])
def test_reused_id_of_another_heal_is_refused(fake, dispatcher, field,
                                              value, named):
    dispatcher.start(_exec_id(), ROOT, UNITS, "host down")
    fake.executions[_exec_id()][field] = value
    with pytest.raises(DispatchError) as err:
        dispatcher.start(_exec_id(), ROOT, UNITS, "host down")
    assert named in str(err.value)
    assert _exec_id() in str(err.value)


def test_unknown_workflow_is_a_dispatch_error(fake):
    with requests.Session() as session:
        d = MistralDispatcher(session, fake.endpoint, workflow_name="nope")
        with pytest.raises(DispatchError, match="HTTP 404.*not found"):
            d.start(_exec_id(), ROOT, UNITS, "x")


@pytest.mark.parametrize("mistral_state, state", [
    ("IDLE", ExecState.RUNNING),
    ("RUNNING", ExecState.RUNNING),
    ("PAUSED", ExecState.RUNNING),
    ("SUCCESS", ExecState.SUCCESS),
    ("ERROR", ExecState.ERROR),
    ("CANCELLED", ExecState.ERROR),
])
def test_states_map_to_exec_states(fake, dispatcher, mistral_state, state):
    ex_id = dispatcher.start(_exec_id(), ROOT, UNITS, "x").id
    fake.finish(ex_id, mistral_state)
    assert dispatcher.get(ex_id).state is state


def test_success_output_is_the_workflow_result(fake, dispatcher):
    ex_id = dispatcher.start(_exec_id(), ROOT, UNITS, "x").id
    result = {"root_stack_id": ROOT, "stack_status": "UPDATE_COMPLETE",
              "replaced": [{"stack_id": "group-a",
                            "resource_name": "member-0",
                            "old_physical_id": "p0",
                            "new_physical_id": "p9"}]}
    fake.finish(ex_id, "SUCCESS", {"result": result})
    ex = dispatcher.get(ex_id)
    assert ex.output == {"result": result}


def test_error_output_is_the_workflow_failure(fake, dispatcher):
    ex_id = dispatcher.start(_exec_id(), ROOT, UNITS, "x").id
    failure = {"step": "mark_unhealthy", "http_status": 409,
               "message": "Stack g already has an action (UPDATE) in "
                          "progress.", "stack_status": "UPDATE_IN_PROGRESS"}
    info = "heal failed in step mark_unhealthy - ..."
    # On ERROR Mistral also puts its own message under `result`.
    fake.finish(ex_id, "ERROR", {"result": info, "failure": failure},
                state_info=info)
    ex = dispatcher.get(ex_id)
    assert ex.state is ExecState.ERROR
    assert ex.output == {"failure": failure}
    assert ex.state_info == info


def test_error_without_failure_keeps_mistral_state_info(fake, dispatcher):
    ex_id = dispatcher.start(_exec_id(), ROOT, UNITS, "x").id
    fake.finish(ex_id, "ERROR", {"result": "boom", "failure": None},
                state_info="boom")
    ex = dispatcher.get(ex_id)
    assert (ex.output, ex.state_info) == ({}, "boom")


def test_unknown_execution_is_missing(dispatcher):
    ex = dispatcher.get(str(uuid.uuid4()))
    assert ex.state is ExecState.MISSING


def test_keystoneauth_session_sees_404_as_missing(fake):
    # keystoneauth raises on 4xx unless told not to.
    d = MistralDispatcher(ks_session.Session(), fake.endpoint)
    assert d.get(str(uuid.uuid4())).state is ExecState.MISSING
    assert d.start(_exec_id(), ROOT, UNITS, "x").state is ExecState.RUNNING


@pytest.mark.parametrize("path", ["/v2/executions",
                                  "/v2/executions/{id}"])
def test_server_error_is_a_dispatch_error(fake, dispatcher, path):
    fake.forced[path.format(id=_exec_id())] = (
        500, b'{"faultstring": "Internal Server Error"}')
    with pytest.raises(DispatchError, match="HTTP 500: Internal Server"):
        if path == "/v2/executions":
            dispatcher.start(_exec_id(), ROOT, UNITS, "x")
        else:
            dispatcher.get(_exec_id())


def test_unreachable_mistral_is_a_dispatch_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    with requests.Session() as session:
        d = MistralDispatcher(session, f"http://127.0.0.1:{port}/v2",
                              timeout=2)
        with pytest.raises(DispatchError, match="unreachable"):
            d.get(_exec_id())
    d = MistralDispatcher(ks_session.Session(),
                          f"http://127.0.0.1:{port}/v2", timeout=2)
    with pytest.raises(DispatchError, match="unreachable"):
        d.get(_exec_id())


@pytest.mark.parametrize("raw, named", [
    (b"<html>gateway</html>", "not JSON"),
    (b'["RUNNING"]', "JSON list, not an object"),
    (b'{"id": "x"}', "lacks state"),
    (b'{"id": "x", "state": "DANCING"}', "unknown state 'DANCING'"),
    (b'{"id": "x", "state": "SUCCESS", "output": "{not json"}',
     "field 'output' is not JSON"),
    (b'{"id": "x", "state": "SUCCESS", "output": "[1]"}',
     "field 'output' is a list"),
])
def test_malformed_answer_is_a_dispatch_error(fake, dispatcher, raw, named):
    fake.forced[f"/v2/executions/{_exec_id()}"] = (200, raw)
    with pytest.raises(DispatchError) as err:
        dispatcher.get(_exec_id())
    assert named in str(err.value)


def test_malformed_start_answer_is_a_dispatch_error(fake, dispatcher):
    fake.forced["/v2/executions"] = (201, b'{"state": "RUNNING"}')
    with pytest.raises(DispatchError, match="lacks id, workflow_name"):
        dispatcher.start(_exec_id(), ROOT, UNITS, "x")


def test_install_creates_then_updates(fake):
    with requests.Session() as session:
        # The sub-workflows others call come first.
        shipped = ["selfheal.unit_servers", "selfheal.server_action",
                   workflows.HEAL_WORKFLOW, workflows.REMEDY_WORKFLOW,
                   workflows.SCALE_WORKFLOW]
        assert install_workflows(session, fake.endpoint) == shipped
        told = []
        assert install_workflows(
            session, fake.endpoint + "/",
            progress=lambda *step: told.append(step)) == shipped
        # Told of each file before its upload, in order, with the count.
        assert [(n, total) for _, n, total in told] == [
            (n, len(told)) for n in range(1, len(told) + 1)]
        assert [name for name, _, _ in told] == workflows.names()
    calls = [(m, p, h.get("Content-Type")) for m, p, h, _ in fake.requests]
    # Each definition (a file): created the first time, updated the second.
    files = len(workflows.names())
    assert files == 4
    assert calls == [("POST", "/v2/workflows", "text/plain")] * files + [
        ("POST", "/v2/workflows", "text/plain"),
        ("PUT", "/v2/workflows", "text/plain")] * files
    assert fake.workflows[workflows.HEAL_WORKFLOW] == workflows.load(
        "heal_units")
    # Public: executions under an owner's trust run in the owner's project.
    assert set(fake.queries) == {"scope=public"}


def test_install_refused_is_a_dispatch_error(fake):
    fake.forced["/v2/workflows"] = (
        400, b'{"faultstring": "Invalid DSL: bad"}')
    with requests.Session() as session:
        with pytest.raises(DispatchError, match="HTTP 400: Invalid DSL"):
            install_workflows(session, fake.endpoint)


def test_execution_ids_are_deterministic_uuids():
    keys = ["g/m0", "g/m1", "g/m2"]
    first = execution_id_for(ROOT, keys, ["a@u", "b@u"], 1)
    assert uuid.UUID(first).version == 5
    assert first == execution_id_for(ROOT, list(reversed(keys)),
                                     ["b@u", "a@u"], 1)
    assert first == execution_id_for(ROOT, keys + ["g/m1"], ["a@u", "b@u"],
                                     1)
    others = {execution_id_for(ROOT, keys, ["a@u", "b@u"], 2),
              execution_id_for("root-2", keys, ["a@u", "b@u"], 1),
              execution_id_for(ROOT, keys[:2], ["a@u", "b@u"], 1),
              execution_id_for(ROOT, keys, ["a@u"], 1)}
    assert first not in others and len(others) == 4


def test_cancel_puts_cancelled_and_reads_back_the_state(fake, dispatcher):
    dispatcher.start(_exec_id(), ROOT, UNITS, "r")
    done = dispatcher.cancel(_exec_id(), "stuck")
    assert done.state is ExecState.ERROR
    method, path, _, body = fake.requests[-1]
    assert (method, path) == ("PUT", f"/v2/executions/{_exec_id()}")
    assert json.loads(body) == {"state": "CANCELLED", "state_info": "stuck"}
    # Already ended: Mistral says 400, the state is read back.
    fake.finish(_exec_id(), "SUCCESS", {"result": {"replaced": []}})
    assert dispatcher.cancel(_exec_id(), "stuck").state is ExecState.SUCCESS
    assert dispatcher.cancel(_exec_id(2), "x").state is ExecState.MISSING


def test_refused_start_is_a_refusal(fake):
    from vitrage_selfheal.dispatch.base import DispatchRefused
    with requests.Session() as session:
        d = MistralDispatcher(session, fake.endpoint, workflow_name="nope",
                              timeout=5)
        with pytest.raises(DispatchRefused, match="Workflow not found"):
            d.start(_exec_id(), ROOT, UNITS, "r")


class _Trusts:
    """TrustSessions' interface: a session per trust, or TrustInvalid."""

    def __init__(self, session) -> None:
        self.asked: list[str] = []
        self._session = session

    def session(self, trust_id: str):
        from vitrage_selfheal.dispatch.trusts import TrustInvalid

        self.asked.append(trust_id)
        if trust_id == "revoked":
            raise TrustInvalid("Keystone refused trust revoked: "
                               "Unauthorized")
        return self._session


def test_a_start_under_a_trust_uses_the_trust_session(fake):
    from vitrage_selfheal.dispatch.trusts import TrustInvalid

    with requests.Session() as ours, requests.Session() as owners:
        owners.headers["X-Test-Session"] = "trust"
        trusts = _Trusts(owners)
        d = MistralDispatcher(ours, fake.endpoint, timeout=5, trusts=trusts)
        d.start(_exec_id(), ROOT, UNITS, "x", trust_id="t-1")
        assert trusts.asked == ["t-1"]
        assert fake.requests[-1][2].get("X-Test-Session") == "trust"
        # Reads are ours: the service user (admin) sees every project.
        d.get(_exec_id())
        assert fake.requests[-1][2].get("X-Test-Session") is None
        before = len(fake.requests)
        with pytest.raises(TrustInvalid):
            d.start(_exec_id(2), ROOT, UNITS, "x", trust_id="revoked")
        assert len(fake.requests) == before      # nothing was sent
    without = MistralDispatcher(requests.Session(), fake.endpoint)
    with pytest.raises(TrustInvalid, match="no password credentials"):
        without.start(_exec_id(3), ROOT, UNITS, "x", trust_id="t-1")
