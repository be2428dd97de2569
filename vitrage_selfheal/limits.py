"""How much of each field the ledger stores, and whether a value can be.

The ledger's column widths are these numbers (ledger/models.py). The
ingest checks every field of a request against them before admitting it:
a value the database refuses (too long, a NUL, a lone surrogate) would
otherwise fail the same insert on every retry, long after the sender was
told it was accepted.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from vitrage_selfheal.model import HealRequest

# Heat stack ids are uuids (36 characters); the room above is for
# deployments that name stacks by something longer.
UNIT_ID = 64
# Heat's own column for resource names.
RESOURCE_NAME = 255
# '<stack_id>/<resource_name>': narrower than both parts at their widest,
# so the joined key is checked too.
UNIT_KEY = 300
PHYSICAL_ID = 64
# The group's name, or the stack id when the unit names no group.
GROUP = 300
ALARM_NAME = 255
ALARM_KEY = 300
# '<alarm_key>#<activation>': the activation count is at most 19 digits.
INCIDENT = ALARM_KEY + 20
SOURCE = 40
# [selfheal] replica_id: on every decision row and every lease.
REPLICA = 64
# A cause as Vitrage reported it (an alarm's or resource's description).
CAUSE = 300
# Details live in TEXT columns: the bound keeps one bad sender from
# filling the ledger and the log, not the database from refusing a row.
DETAIL = 4000
# A unit's controls: the words of its root stack's `selfheal:*` tags.
CONTROLS = 200
# group_size is a (signed 32-bit) INTEGER column.
GROUP_SIZE = 2**31 - 1

_CUT = "... [cut]"


def check_text(name: str, value: Any, limit: int) -> Optional[str]:
    """None if `value` can be stored in a column of `limit` characters,
    else what is wrong with it, starting with `name`."""
    if not isinstance(value, str):
        return f"{name} must be a string, got {type(value).__name__}"
    if len(value) > limit:
        return (f"{name} is {len(value)} characters long, over the limit "
                f"of {limit}")
    nul = value.find("\0")
    if nul >= 0:
        return f"{name} contains NUL at character {nul}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        # The only code points a str holds that UTF-8 cannot: surrogates
        # not paired (from JSON '\ud800' or a broken decoder).
        return (f"{name} contains a lone surrogate "
                f"U+{ord(value[exc.start]):04X} at character {exc.start}; "
                f"not encodable as UTF-8")
    return None


def check_count(name: str, value: Any, limit: int) -> Optional[str]:
    """None if `value` is a count from 0 to `limit`, else why not."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{name} must be a count, got {type(value).__name__}"
    if value < 0:
        return f"{name} must not be negative, got {value}"
    if value > limit:
        return f"{name} {value} is over the limit of {limit}"
    return None


def request_problem(request: HealRequest) -> Optional[str]:
    """None if every field of the request can be stored, else the first
    field that cannot and why."""
    unit = request.unit
    texts: list[tuple[str, Any, int]] = [
        ("root_stack_id", unit.root_stack_id, UNIT_ID),
        ("stack_id", unit.stack_id, UNIT_ID),
        ("resource_name", unit.resource_name, RESOURCE_NAME),
    ]
    if unit.physical_id is not None:
        texts.append(("physical_id", unit.physical_id, PHYSICAL_ID))
    if unit.group is not None:
        texts.append(("group", unit.group, GROUP))
    for name, value, limit in texts:
        problem = check_text(name, value, limit)
        if problem:
            return problem
    # Only once the parts are strings can they be joined.
    texts = [("unit key", unit.key, UNIT_KEY),
             ("alarm_name", request.alarm_name, ALARM_NAME),
             ("alarm_key", request.alarm_key, ALARM_KEY),
             ("source", request.source, SOURCE),
             ("detail", request.detail, DETAIL)]
    texts += [(f"causes[{n}]", cause, CAUSE)
              for n, cause in enumerate(request.causes)]
    for name, value, limit in texts:
        problem = check_text(name, value, limit)
        if problem:
            return problem
    if unit.group_size is not None:
        problem = check_count("group_size", unit.group_size, GROUP_SIZE)
        if problem:
            return problem
    when = request.event_time
    if when is not None and (isinstance(when, bool) or
                             not isinstance(when, (int, float)) or
                             not math.isfinite(when)):
        # NaN compares false with everything: ordering would be lost.
        return f"event_time must be a finite number, got {when!r}"
    return None


def storable(text: Any, limit: int = DETAIL) -> str:
    """`text` as a value every ledger backend takes: NULs and lone
    surrogates escaped (so the detail still shows them), cut to `limit`
    characters."""
    if not isinstance(text, str):
        text = str(text)
    if "\0" in text:
        text = text.replace("\0", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > limit:
        text = text[:max(limit - len(_CUT), 0)] + _CUT[:limit]
    return text
