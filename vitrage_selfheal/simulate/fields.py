"""Typed readers of a scenario document: each names the dotted path of the
field it rejects ("scenario.timeline[3].instance_state.status: required").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


class ScenarioError(ValueError):
    pass


def mapping(doc: Any, where: str,
            allowed: Iterable[str] | None = None) -> dict:
    """`doc` as a mapping; with `allowed`, any other key is an error (a
    typo would otherwise be ignored and the run silently differ)."""
    if not isinstance(doc, dict):
        raise ScenarioError(f"{where}: expected a mapping, got "
                            f"{type(doc).__name__}")
    if allowed is not None:
        known = set(allowed)
        for key in doc:
            if key not in known:
                raise ScenarioError(
                    f"{where}.{key}: unknown key; known: "
                    f"{', '.join(sorted(known))}")
    return doc


def sequence(doc: Any, where: str) -> list:
    if not isinstance(doc, list):
        raise ScenarioError(f"{where}: expected a list, got "
                            f"{type(doc).__name__}")
    return doc


def name(value: Any, where: str) -> str:
    """An id or name: a string (an integer is read as its digits, as
    YAML writes `name: 0`)."""
    if value is None or value == "":
        raise ScenarioError(f"{where}: required")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ScenarioError(f"{where}: expected a name (a string), got "
                            f"{type(value).__name__} {value!r}")
    return str(value)


def required(d: dict, key: str, where: str) -> str:
    return name(d.get(key), f"{where}.{key}")


def optional_name(d: dict, key: str, where: str,
                  default: str | None = None) -> str | None:
    if d.get(key) is None:
        return default
    return name(d[key], f"{where}.{key}")


def names(doc: Any, where: str) -> tuple[str, ...]:
    return tuple(name(v, f"{where}[{n}]")
                 for n, v in enumerate(sequence(doc, where)))


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{where}: expected a number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:
        raise ScenarioError(f"{where}: too large for a number of "
                            f"seconds") from None
    # NaN sorts nowhere and infinity never comes: a timeline needs neither.
    if not math.isfinite(result):
        raise ScenarioError(f"{where}: expected a finite number, got "
                            f"{value!r}")
    if result < 0:
        raise ScenarioError(f"{where}: must not be negative")
    return result


def integer(value: Any, where: str, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ScenarioError(f"{where}: must be at least {minimum}, got "
                            f"{value}")
    return value


def one_of(value: str, choices: Iterable[str], where: str) -> str:
    known = sorted(set(choices))
    if value not in known:
        raise ScenarioError(f"{where}: {value!r} is not one of "
                            f"{', '.join(known)}")
    return value


def unique(values: Iterable[str], where: str, what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ScenarioError(f"{where}: {what} {value!r} appears twice")
        seen.add(value)
