"""Heals as Mistral executions of the shipped `selfheal.heal_units` workflow.

Raw HTTP on an injected session (a keystoneauth1 Session or a plain
requests.Session): python-mistralclient cannot pass the execution `id`,
and a caller-chosen id is what makes a start idempotent. Mistral answers a
POST with an id it already knows with that execution (201, the body
ignored), so a start is checked against what was asked.

Wire facts (Mistral 23): `input`, `params` and `output` of an execution are
JSON documents encoded as strings; errors are JSON objects with a
`faultstring`; on ERROR Mistral puts its own message into `output.result`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

import requests
from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session

from vitrage_selfheal import workflows
from vitrage_selfheal.dispatch.base import (
    DispatchError,
    DispatchRefused,
    ExecState,
    Execution,
    PreReplaceHook,
)
from vitrage_selfheal.dispatch.trusts import TrustInvalid, TrustSessions
from vitrage_selfheal.model import ScalePlan, Unit

DEFAULT_TIMEOUT = 10.0

_STATES = {
    "IDLE": ExecState.RUNNING,
    "RUNNING": ExecState.RUNNING,
    "PAUSED": ExecState.RUNNING,
    "SUCCESS": ExecState.SUCCESS,
    "ERROR": ExecState.ERROR,
    "CANCELLED": ExecState.ERROR,
}

_NETWORK_ERRORS = (requests.RequestException, ks_exceptions.ClientException)


def description_for(root_stack_id: str) -> str:
    """The execution description: lets Mistral list the heals of a stack."""
    return f"selfheal root_stack={root_stack_id}"


def unit_input(unit: Unit) -> dict[str, Any]:
    return {"stack_id": unit.stack_id, "resource_name": unit.resource_name,
            "physical_id": unit.physical_id}


def scale_input(plan: ScalePlan) -> dict[str, Any]:
    """selfheal.scale's input beyond the heal's (root, units, reason)."""
    return {"group": {"stack_id": plan.group.group_stack_id,
                      "parent_stack_id": plan.group.parent_stack_id,
                      "resource_name": plan.group.resource_name},
            "method": plan.method.value, "size_before": plan.size_before,
            "target": plan.target,
            "capacity_parameter": plan.capacity_parameter,
            "policy": plan.policy, "victims": list(plan.victims)}


class MistralDispatcher:
    """The `Dispatcher` of dispatch/base.py on top of Mistral's v2 API."""

    def __init__(self, session: Any, endpoint: str,
                 workflow_name: str = workflows.HEAL_WORKFLOW,
                 timeout: float = DEFAULT_TIMEOUT,
                 workflow_input: Optional[Mapping[str, Any]] = None,
                 scale_workflow_name: str = workflows.SCALE_WORKFLOW,
                 trusts: Optional[TrustSessions] = None) -> None:
        self.session = session
        self.endpoint = endpoint.rstrip("/")
        self.workflow_name = workflow_name
        self.scale_workflow_name = scale_workflow_name
        self.trusts = trusts
        self.timeout = timeout
        # Tunables of the workflow (poll_delay, max_polls, ...); the
        # workflow's own defaults apply to what is not given.
        self.workflow_input = dict(workflow_input or {})

    def start(self, execution_id: str, root_stack_id: str,
              units: Sequence[Unit], reason: str,
              scale: Optional[ScalePlan] = None,
              trust_id: Optional[str] = None,
              step: Optional[str] = None,
              fence: Optional[float] = None,
              hook: Optional[PreReplaceHook] = None) -> Execution:
        wf_input = {**self.workflow_input, "root_stack_id": root_stack_id,
                    "units": [unit_input(u) for u in units],
                    "reason": reason}
        workflow = self.workflow_name
        if scale is not None:
            workflow = self.scale_workflow_name
            wf_input.update(scale_input(scale))
        elif step is not None:
            # Only the waits it shares with the heal: the others are not
            # inputs of the ladder's workflow.
            workflow = workflows.REMEDY_WORKFLOW
            wf_input = {k: v for k, v in wf_input.items()
                        if k not in ("conflict_delay", "conflict_retries")}
            wf_input["step"] = step
        else:
            if fence is not None:
                wf_input.update(fence=True, safe_time_to_assume_dead=fence)
            if hook is not None:
                wf_input.update(pre_replace_hook=hook.workflow,
                                hook_timeout=hook.timeout,
                                hook_default=hook.default)
        body = {"id": execution_id, "workflow_name": workflow,
                "description": description_for(root_stack_id),
                "input": json.dumps(wf_input)}
        # Under the stack owner's trust when there is one: the execution's
        # Heat calls then act as the owner. Reads and cancels stay ours.
        session = self._session_for(trust_id)
        answer = _request(session, "POST",
                          f"{self.endpoint}/executions", self.timeout,
                          json=body)
        if trust_id is not None and answer.status_code == 401:
            raise TrustInvalid(f"Mistral refused the token of trust "
                               f"{trust_id}: {_describe(answer)}")
        if answer.status_code not in (200, 201):
            raise DispatchRefused(
                f"Mistral refused to start {execution_id}: "
                f"{_describe(answer)}")
        doc = _json_object(answer, f"start of {execution_id}")
        _require(doc, ("id", "state", "workflow_name"),
                 f"start of {execution_id}")
        _check_same(doc, execution_id, workflow, root_stack_id, units)
        return _execution(doc, execution_id)

    def _session_for(self, trust_id: Optional[str]) -> Any:
        if trust_id is None:
            return self.session
        if self.trusts is None:
            raise TrustInvalid(
                f"the stack has trust {trust_id} but this service has no "
                f"password credentials to use it with")
        return self.trusts.session(trust_id)

    def get(self, execution_id: str) -> Execution:
        answer = _request(self.session, "GET",
                          f"{self.endpoint}/executions/{execution_id}",
                          self.timeout)
        if answer.status_code == 404:
            return Execution(execution_id, ExecState.MISSING)
        if answer.status_code != 200:
            raise DispatchError(f"cannot read execution {execution_id}: "
                                f"{_describe(answer)}")
        doc = _json_object(answer, f"execution {execution_id}")
        _require(doc, ("state",), f"execution {execution_id}")
        return _execution(doc, execution_id)

    def cancel(self, execution_id: str, reason: str) -> Execution:
        """PUT state CANCELLED; Mistral refuses (4xx) an execution that has
        ended already, so its state is read back either way."""
        answer = _request(self.session, "PUT",
                          f"{self.endpoint}/executions/{execution_id}",
                          self.timeout,
                          json={"state": "CANCELLED", "state_info": reason})
        if answer.status_code == 404:
            return Execution(execution_id, ExecState.MISSING)
        if answer.status_code == 200:
            doc = _json_object(answer, f"cancel of {execution_id}")
            if isinstance(doc.get("state"), str):
                return _execution(doc, execution_id)
        return self.get(execution_id)


def install_workflows(session: Any, endpoint: str,
                      timeout: float = DEFAULT_TIMEOUT,
                      scope: str = "public",
                      progress: Optional[Callable[[str, int, int], None]]
                      = None) -> list[str]:
    """Create or update every shipped workflow; the names Mistral stored.
    `progress(name, n, total)` is told of each file before its upload.

    Public by default: an execution started under a stack owner's trust
    runs in the owner's project, where a workflow private to the
    installing (service) project is "not found".
    """
    url = f"{endpoint.rstrip('/')}/workflows?scope={scope}"
    installed = []
    names = workflows.names()
    for n, name in enumerate(names, 1):
        if progress is not None:
            progress(name, n, len(names))
        text = workflows.load(name)
        headers = {"Content-Type": "text/plain"}
        answer = _request(session, "POST", url, timeout, data=text,
                          headers=headers)
        if answer.status_code == 409:
            # Already there: the same call as `openstack workflow update`.
            answer = _request(session, "PUT", url, timeout, data=text,
                              headers=headers)
        if answer.status_code not in (200, 201):
            raise DispatchError(f"Mistral refused workflow {name}: "
                                f"{_describe(answer)}")
        doc = _json_object(answer, f"install of {name}")
        listed = doc.get("workflows")
        if not isinstance(listed, list) or not all(
                isinstance(w, dict) and isinstance(w.get("name"), str)
                for w in listed):
            raise DispatchError(f"install of {name}: answer has no list of "
                                f"named 'workflows': {_head(answer.text)}")
        installed += [w["name"] for w in listed]
    return installed


def _request(session: Any, method: str, url: str, timeout: float,
             **kwargs: Any) -> Any:
    if isinstance(session, (ks_session.Session, ks_adapter.Adapter)):
        # Status codes are ours to interpret (404 means MISSING).
        kwargs["raise_exc"] = False
    try:
        # Keywords: keystoneauth's request() takes (url, method), requests'
        # takes (method, url).
        answer = session.request(method=method, url=url, timeout=timeout,
                                 **kwargs)
    except _NETWORK_ERRORS as exc:
        raise DispatchError(f"Mistral unreachable ({method} {url}): "
                            f"{exc}") from exc
    if answer.status_code >= 500:
        raise DispatchError(f"Mistral failed ({method} {url}): "
                            f"{_describe(answer)}")
    return answer


def _describe(answer: Any) -> str:
    """HTTP status and Mistral's `faultstring` when there is one."""
    fault = None
    try:
        doc = answer.json()
        if isinstance(doc, dict):
            fault = doc.get("faultstring")
    except ValueError:
        pass
    return f"HTTP {answer.status_code}: {fault or _head(answer.text)}"


def _head(text: Any, limit: int = 200) -> str:
    text = str(text or "").strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _json_object(answer: Any, what: str) -> dict[str, Any]:
    try:
        doc = answer.json()
    except ValueError:
        raise DispatchError(f"{what}: answer is not JSON: "
                            f"{_head(answer.text)!r}") from None
    if not isinstance(doc, dict):
        raise DispatchError(f"{what}: answer is a JSON "
                            f"{type(doc).__name__}, not an object")
    return doc


def _require(doc: Mapping[str, Any], fields: Sequence[str],
             what: str) -> None:
    missing = [f for f in fields if not isinstance(doc.get(f), str)]
    if missing:
        raise DispatchError(f"{what}: answer lacks {', '.join(missing)} "
                            f"(got keys {sorted(doc)})")


def _embedded(doc: Mapping[str, Any], field: str, what: str) -> dict:
    """`input`/`output`: a JSON object, sent by Mistral as a string."""
    value = doc.get(field)
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise DispatchError(f"{what}: field {field!r} is not JSON: "
                                f"{_head(value)!r}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DispatchError(f"{what}: field {field!r} is a "
                            f"{type(value).__name__}, not an object")
    return value


def _check_same(doc: Mapping[str, Any], execution_id: str,
                workflow_name: str, root_stack_id: str,
                units: Sequence[Unit]) -> None:
    """A reused id must name the heal that was asked for."""
    what = f"execution {execution_id}"
    mismatches = []
    if doc.get("id") != execution_id:
        mismatches.append(f"id {doc.get('id')!r}")
    if doc.get("workflow_name") != workflow_name:
        mismatches.append(f"workflow_name {doc.get('workflow_name')!r} "
                          f"(asked {workflow_name!r})")
    wf_input = _embedded(doc, "input", what)
    if wf_input.get("root_stack_id") != root_stack_id:
        mismatches.append(f"root_stack_id {wf_input.get('root_stack_id')!r}"
                          f" (asked {root_stack_id!r})")
    got_units = wf_input.get("units")
    asked = sorted(u.key for u in units)
    try:
        got = sorted(f"{u['stack_id']}/{u['resource_name']}"
                     for u in got_units)
    except (KeyError, TypeError):
        got = None
    if got != asked:
        mismatches.append(f"units {got!r} (asked {asked!r})")
    if mismatches:
        raise DispatchError(
            f"{what} already exists for another heal: "
            + "; ".join(mismatches))


def _execution(doc: Mapping[str, Any], execution_id: str) -> Execution:
    what = f"execution {execution_id}"
    raw_state = doc.get("state")
    state = _STATES.get(raw_state) if isinstance(raw_state, str) else None
    if state is None:
        raise DispatchError(f"{what}: unknown state {raw_state!r}")
    output = _embedded(doc, "output", what)
    # Only the workflow's own structured key is passed on: on ERROR,
    # Mistral's `result` is its error text, which state_info holds anyway.
    key = {ExecState.SUCCESS: "result", ExecState.ERROR: "failure"}.get(state)
    kept = {key: output[key]} if key and output.get(key) is not None else {}
    return Execution(id=str(doc.get("id") or execution_id), state=state,
                     output=kept, state_info=str(doc.get("state_info") or ""))
