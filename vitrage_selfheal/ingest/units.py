"""A unit from the fields a payload gives: a vertex id and/or its parts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Union

from vitrage_selfheal import limits
from vitrage_selfheal.ingest.results import Rejection, show
from vitrage_selfheal.model import UNIT_ID_SEPARATOR, Reason, Unit

UNIT_FIELDS = ("root_stack_id", "stack_id", "resource_name")
# The ledger's width of each unit field a payload may give.
_WIDTHS = {"root_stack_id": limits.UNIT_ID, "stack_id": limits.UNIT_ID,
           "resource_name": limits.RESOURCE_NAME,
           "physical_id": limits.PHYSICAL_ID, "group": limits.GROUP}
# '<root_stack_id>/<stack_id>/<resource_name>' at their widest.
_VERTEX_ID = 2 * limits.UNIT_ID + limits.RESOURCE_NAME + 2
# A group size is at most ten digits (limits.GROUP_SIZE).
_MAX_COUNT_DIGITS = 10


def unit_from_fields(fields: Mapping[str, Any], id_key: str,
                     where: str) -> Union[Unit, Rejection]:
    """Build a Unit from a vertex id and/or explicit properties.

    Either may be absent (Vitrage's stock webhook keeps only the id; an
    action input may give only the parts), but where both are given they
    must agree: a disagreement means something upstream is confused about
    which unit it means, and replacing the wrong unit is the worst outcome.
    """
    def bad(text: str) -> Rejection:
        return Rejection(Reason.MALFORMED, f"{where}: {text}")

    def unstorable(key: str, value: str, limit: int) -> Optional[Rejection]:
        problem = limits.check_text(key, value, limit)
        return Rejection(Reason.INVALID_FIELD,
                         f"{where}: {problem}") if problem else None

    explicit: dict[str, Optional[str]] = {}
    for key in UNIT_FIELDS:
        value = fields.get(key)
        if value is None or value == "":
            explicit[key] = None
        elif not isinstance(value, str) or not value.strip():
            return bad(f"{key} must be a non-empty string, "
                       f"got {show(value)}")
        elif invalid := unstorable(key, value, _WIDTHS[key]):
            return invalid
        elif key != "resource_name" and UNIT_ID_SEPARATOR in value:
            return bad(f"{key} {show(value)} contains "
                       f"{UNIT_ID_SEPARATOR!r}")
        else:
            explicit[key] = value

    vertex_id = fields.get(id_key)
    from_id: Optional[Unit] = None
    if vertex_id is not None and vertex_id != "":
        if not isinstance(vertex_id, str):
            return bad(f"{id_key} must be a string, got {show(vertex_id)}")
        if invalid := unstorable(id_key, vertex_id, _VERTEX_ID):
            return invalid
        try:
            from_id = Unit.from_vertex_id(vertex_id)
        except ValueError as exc:
            return bad(str(exc))

    parts: dict[str, str] = {}
    for key in UNIT_FIELDS:
        given = explicit[key]
        implied = getattr(from_id, key) if from_id else None
        if given and implied and given != implied:
            return bad(f"{id_key} {show(vertex_id)} says "
                       f"{key}={show(implied)} but property {key} is "
                       f"{show(given)}")
        if given or implied:
            parts[key] = given or implied  # type: ignore[assignment]
    missing = [key for key in UNIT_FIELDS if key not in parts]
    if missing:
        return bad(f"missing {', '.join(missing)} (give them, or {id_key} "
                   f"'<root_stack_id>/<stack_id>/<resource_name>')")

    extra: dict[str, Any] = {}
    for key in ("physical_id", "group"):
        value = fields.get(key)
        if value is None or value == "":
            extra[key] = None
        elif not isinstance(value, str):
            return bad(f"{key} must be a string, got {show(value)}")
        elif invalid := unstorable(key, value, _WIDTHS[key]):
            return invalid
        else:
            extra[key] = value
    size = _group_size(fields.get("group_size"))
    if isinstance(size, str):
        return bad(size)
    if size is not None and size > limits.GROUP_SIZE:
        return Rejection(Reason.INVALID_FIELD,
                         f"{where}: group_size "
                         f"{show(fields.get('group_size'))} is over the "
                         f"limit of {limits.GROUP_SIZE}")
    controls = fields.get("selfheal_controls")
    if controls is not None:
        if not isinstance(controls, str):
            return bad(f"selfheal_controls must be a string, got "
                       f"{show(controls)}")
        if invalid := unstorable("selfheal_controls", controls,
                                 limits.CONTROLS):
            return invalid
    return Unit(group_size=size, controls=controls, **parts, **extra)


def _group_size(value: Any) -> Union[int, None, str]:
    """The size, None when absent, or a complaint (a str)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return f"group_size must be a count, got {value!r}"
    text = value.strip() if isinstance(value, str) else None
    if isinstance(value, int):
        size = value
    elif text and text.isascii() and text.isdigit():
        # Past ten digits it is over the limit whatever it says; int()
        # of thousands of digits is refused by Python itself.
        size = (int(text) if len(text) <= _MAX_COUNT_DIGITS
                else limits.GROUP_SIZE + 1)
    else:
        return f"group_size must be a count, got {show(value)}"
    if size < 0:
        return f"group_size must not be negative, got {size}"
    return size
