"""Clusters for the faults: the demo's templates (democloud), grown where
a fault needs it, and built side by side."""

from __future__ import annotations

from typing import Any

import yaml

from tests.cloud.helpers import Cluster
from vitrage_selfheal.democloud.run import HERE

# Seconds the slow resource takes per update: Heat holds the root stack
# UPDATE_IN_PROGRESS that long.
SLOW_UPDATE = 30


def cluster_template(max_size: int = 6, slow: bool = False) -> str:
    """cluster.yaml with room for `max_size` units; `slow` adds a test
    resource whose update takes SLOW_UPDATE seconds (parameter
    `slow_value`: change it to hold the stack busy)."""
    doc = yaml.safe_load((HERE / "cluster.yaml").read_text())
    doc["resources"]["asg"]["properties"]["max_size"] = max_size
    if slow:
        doc["parameters"]["slow_value"] = {"type": "string", "default": "a"}
        doc["resources"]["slow"] = {
            "type": "OS::Heat::TestResource",
            "properties": {"value": {"get_param": "slow_value"},
                           "action_wait_secs": {"update": SLOW_UPDATE}}}
    # safe_load read the version as a date; Heat wants the same text back.
    return yaml.safe_dump(doc, sort_keys=False)


def clusters(conn: Any, count: int, size: int,
             slow: bool = False) -> list[Cluster]:
    """`count` clusters of `size` units, created side by side."""
    template = cluster_template(max(size, 6), slow)
    posted = [Cluster(conn, size, template=template, wait=False)
              for _ in range(count)]
    # Heat builds them all at once; waiting is sequential but the slowest
    # one bounds the total.
    return [c.wait_created(timeout=600) for c in posted]


def delete(found: list[Cluster]) -> None:
    """Deletion runs on in Heat; the next test does not wait for it."""
    for cluster in found:
        try:
            cluster.delete()
        except Exception:  # a cleanup must not hide the test's own failure
            pass


def victims(cluster: Cluster, count: int) -> list[str]:
    return sorted(cluster.members())[:count]
