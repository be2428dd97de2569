"""Deterministic Mistral execution ids.

The id is derived from what the heal is (root stack, units, incidents,
attempt), so a retry after a crash, or a second replica deciding the same
batch, asks Mistral for the SAME execution and gets the existing one back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

# Fixed namespace: ids must not change between releases of the plugin.
NAMESPACE = uuid.UUID("5b0c1f4e-4f0e-5d8a-9c61-7a1e3c2b9d10")


def execution_id_for(root_stack_id: str, unit_keys: Iterable[str],
                     incidents: Iterable[str], attempt: int) -> str:
    canonical = json.dumps(
        {"root": root_stack_id, "units": sorted(set(unit_keys)),
         "incidents": sorted(set(incidents)), "attempt": int(attempt)},
        sort_keys=True, separators=(",", ":"))
    return str(uuid.uuid5(NAMESPACE, canonical))
