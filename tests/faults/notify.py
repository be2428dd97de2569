"""Signed Vitrage notifications for a unit of a real cluster, as the
`selfheal_webhook` notifier plugin posts them."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any, Optional

import requests

from tests.faults.drive import ALARM
from vitrage_selfheal.ingest.webhook import NOTIFICATIONS_PATH, sign
from vitrage_selfheal.model import Unit

SECRET = "faults-webhook-secret"


def payload(unit: Unit, at: float, alarm: str = ALARM) -> dict[str, Any]:
    """A deduced alarm on the unit's heat.unit vertex."""
    stamp = datetime.datetime.fromtimestamp(at, datetime.timezone.utc)
    return {
        "vitrage_id": f"alarm-{unit.resource_name}", "name": alarm,
        "vitrage_category": "ALARM", "vitrage_type": "vitrage",
        "severity": "CRITICAL", "state": "Active",
        "update_timestamp": stamp.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "resource": {
            "id": unit.vertex_id, "vitrage_type": "heat.unit",
            "vitrage_category": "RESOURCE", "name": unit.resource_name,
            "root_stack_id": unit.root_stack_id, "stack_id": unit.stack_id,
            "resource_name": unit.resource_name,
            "physical_id": unit.physical_id, "group": unit.group,
            "group_size": unit.group_size, "state": "AVAILABLE"}}


def event(active: bool) -> str:
    return ("vitrage.deduced_alarm.activate" if active
            else "vitrage.deduced_alarm.deactivate")


def body(unit: Unit, active: bool = True,
         at: Optional[float] = None) -> bytes:
    return json.dumps({"notification": event(active),
                       "payload": payload(unit, at or time.time())}).encode()


def post(port: int, data: bytes, ts: Optional[float] = None,
         timeout: float = 30) -> requests.Response:
    headers = {"Content-Type": "application/json",
               **sign(SECRET, data, time.time() if ts is None else ts)}
    return requests.post(f"http://127.0.0.1:{port}{NOTIFICATIONS_PATH}",
                         data=data, headers=headers, timeout=timeout)
