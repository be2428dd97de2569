"""The Aodh alarms that drive a group's auto-scaling through this plugin.

Two `gnocchi_aggregation_by_resources_threshold` alarms per group, on the
group's load in Gnocchi: above the high mark → the scale-out link, below
the low mark → the scale-in link. Heat's own recipe points such alarms at
a scaling policy's `alarm_url`, which resizes the group behind the back of
any heal in flight; pointed at our links, the request joins the stack's
queue instead.

`repeat_actions` is on: while the load stays high Aodh asks again on each
evaluation, which the scaling cooldown turns into one step per cooldown,
and a request lost to an outage of the receiver is asked again.

Created under the plugin's own (admin) credentials, Aodh leaves the query
as given. Created by a non-admin user, Aodh narrows it to resources that
user's project created (see Aodh's `gnocchi_external_project_owner`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Optional
from urllib import parse

NAME_PREFIX = "selfheal-autoscale"
ALARM_TYPE = "gnocchi_aggregation_by_resources_threshold"


class AodhError(RuntimeError):
    """Aodh refused or gave an answer we cannot read."""


@dataclasses.dataclass(frozen=True)
class LoadRule:
    """Which measures are the group's load, and how they are judged."""

    metric: str
    # Heat's convention: servers carry metadata `metering.server_group:
    # <stack id>`, which Ceilometer stores as the instance's
    # `server_group` attribute.
    query: dict[str, Any]
    resource_type: str = "instance"
    aggregation_method: str = "mean"
    granularity: int = 60
    evaluation_periods: int = 1


def default_query(root_stack_id: str) -> dict[str, Any]:
    return {"=": {"server_group": root_stack_id}}


def alarm_name(direction: str, group: str, root_stack_id: str) -> str:
    return f"{NAME_PREFIX} {direction} {group} of {root_stack_id}"


def alarm_body(name: str, action_url: str, rule: LoadRule, operator: str,
               threshold: float, description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "type": ALARM_TYPE,
        "description": description or name,
        "severity": "moderate",
        "repeat_actions": True,
        "alarm_actions": [action_url],
        f"{ALARM_TYPE}_rule": {
            "metric": rule.metric,
            "resource_type": rule.resource_type,
            "query": json.dumps(rule.query),
            "aggregation_method": rule.aggregation_method,
            "granularity": rule.granularity,
            "evaluation_periods": rule.evaluation_periods,
            "threshold": threshold,
            "comparison_operator": operator,
        },
    }


def put_alarm(session: Any, endpoint: str, body: dict[str, Any],
              timeout: float = 30.0) -> str:
    """Create the alarm, or update the one of that name: its id."""
    base = endpoint.rstrip("/") + "/v2/alarms"
    query = parse.urlencode({"q.field": "name", "q.op": "eq",
                             "q.value": body["name"]})
    found = _call(session, "GET", f"{base}?{query}", timeout)
    existing: Optional[str] = None
    if isinstance(found, list) and found and isinstance(found[0], dict):
        existing = found[0].get("alarm_id")
    if existing:
        answer = _call(session, "PUT", f"{base}/{existing}", timeout, body)
    else:
        answer = _call(session, "POST", base, timeout, body)
    if not isinstance(answer, dict) or not isinstance(
            answer.get("alarm_id"), str):
        raise AodhError(f"Aodh's answer for alarm {body['name']!r} has no "
                        f"alarm_id: {str(answer)[:200]}")
    return answer["alarm_id"]


def _call(session: Any, method: str, url: str, timeout: float,
          body: Optional[dict[str, Any]] = None) -> Any:
    try:
        answer = session.request(url, method, json=body, timeout=timeout,
                                 raise_exc=False)
    except Exception as exc:
        raise AodhError(f"Aodh unreachable ({method} {url}): {exc}") from exc
    if answer.status_code >= 300:
        raise AodhError(f"Aodh refused {method} {url}: HTTP "
                        f"{answer.status_code}: {answer.text[:300]}")
    try:
        return answer.json()
    except ValueError:
        raise AodhError(f"Aodh's answer to {method} {url} is not JSON: "
                        f"{answer.text[:200]}") from None
