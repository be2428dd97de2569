"""Stored-field limits: the checks, the ledger's widths, storable details."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from tests.unit.fakes import make_healer, unit
from tests.unit.fakes import request as heal_request
from vitrage_selfheal import limits
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.ledger import models
from vitrage_selfheal.ledger.store import Ledger
from vitrage_selfheal.model import Action, Decision, HealRequest, Reason, Unit


@pytest.mark.parametrize("value, words", [
    (7, ["name must be a string, got int"]),
    (None, ["got NoneType"]),
    (b"abc", ["got bytes"]),
    ("x" * 11, ["11 characters long", "limit of 10"]),
    ("a\x00b", ["contains NUL at character 1"]),
    ("ab\ud800", ["lone surrogate U+D800 at character 2",
                  "not encodable as UTF-8"]),
    ("\udfff", ["U+DFFF"]),
])
def test_check_text_names_what_is_wrong(value, words) -> None:
    problem = limits.check_text("name", value, 10)
    assert problem.startswith("name ")
    for word in words:
        assert word in problem


@pytest.mark.parametrize("value", ["", "x" * 10, "é✓ü", "\U0001f600" * 5])
def test_check_text_accepts_storable_text(value) -> None:
    assert limits.check_text("name", value, 10) is None


@pytest.mark.parametrize("value, word", [
    (True, "got bool"), ("3", "got str"), (-1, "negative"),
    (2**31, "over the limit of 2147483647"),
])
def test_check_count(value, word) -> None:
    assert word in limits.check_count("group_size", value, limits.GROUP_SIZE)
    assert limits.check_count("group_size", 2**31 - 1,
                              limits.GROUP_SIZE) is None


def widest() -> HealRequest:
    """Every field at its limit: the ledger must take it."""
    return HealRequest(
        unit=Unit(root_stack_id="r" * limits.UNIT_ID,
                  stack_id="s" * limits.UNIT_ID,
                  resource_name="n" * (limits.UNIT_KEY - limits.UNIT_ID - 1),
                  physical_id="p" * limits.PHYSICAL_ID,
                  group="g" * limits.GROUP, group_size=limits.GROUP_SIZE),
        alarm_key="k" * limits.ALARM_KEY,
        alarm_name="selfheal.heal " + "a" * (limits.ALARM_NAME - 14),
        source="s" * limits.SOURCE, detail="d" * limits.DETAIL,
        causes=("c" * limits.CAUSE,), event_time=1.5)


def test_request_at_every_limit_passes() -> None:
    assert limits.request_problem(widest()) is None


@pytest.mark.parametrize("field, change, words", [
    ("unit", {"root_stack_id": "r" * 65}, ["root_stack_id", "65", "64"]),
    ("unit", {"stack_id": "s\x00"}, ["stack_id contains NUL"]),
    ("unit", {"resource_name": "n" * 256}, ["resource_name", "255"]),
    ("unit", {"resource_name": "n" * 240}, ["unit key", "305", "300"]),
    ("unit", {"physical_id": "\ud834"}, ["physical_id", "surrogate"]),
    ("unit", {"group": "g" * 301}, ["group ", "301"]),
    ("unit", {"group_size": 2**31}, ["group_size", "2147483647"]),
    ("alarm_name", "a" * 256, ["alarm_name", "256", "255"]),
    ("alarm_key", "k" * 301, ["alarm_key", "301", "300"]),
    ("source", "s" * 41, ["source", "41", "40"]),
    ("detail", "d" * 4001, ["detail", "4001", "4000"]),
    ("causes", ("ok", "c\x00"), ["causes[1] contains NUL"]),
    ("event_time", float("nan"), ["event_time", "finite"]),
    ("event_time", float("inf"), ["event_time", "finite"]),
])
def test_request_problem_names_the_field(field, change, words) -> None:
    base = widest()
    if field == "unit":
        value = dataclasses.replace(base.unit, **change)
    else:
        value = change
    problem = limits.request_problem(
        dataclasses.replace(base, **{field: value}))
    for word in words:
        assert word in problem, problem


def test_widths_of_the_ledger_are_the_limits() -> None:
    width = {(c.table.name, c.name): c.type.length
             for t in models.Base.metadata.sorted_tables for c in t.columns
             if isinstance(c.type, sa.String) and c.type.length}
    assert width[("units", "root_stack_id")] == limits.UNIT_ID
    assert width[("units", "stack_id")] == limits.UNIT_ID
    assert width[("units", "resource_name")] == limits.RESOURCE_NAME
    assert width[("units", "physical_id")] == limits.PHYSICAL_ID
    assert width[("units", "group_key")] == limits.GROUP
    assert width[("unit_alarms", "alarm_name")] == limits.ALARM_NAME
    assert width[("intents", "incident")] == limits.INCIDENT
    for table in ("units", "unit_alarms", "intents", "decisions"):
        assert width[(table, "unit_key")] == limits.UNIT_KEY
    for table in ("unit_alarms", "decisions"):
        assert width[(table, "alarm_key")] == limits.ALARM_KEY
    assert width[("decisions", "source")] == limits.SOURCE
    # 'stack:<root_stack_id>' is a hold's scope.
    assert width[("holds", "scope")] >= len("stack:") + limits.UNIT_ID


@pytest.mark.parametrize("text, want", [
    ("plain", "plain"),
    ("a\x00b", "a\\x00b"),
    ("a\ud800b", "a\\ud800b"),
    ("é✓", "é✓"),
    (12, "12"),
])
def test_storable_escapes(text, want) -> None:
    assert limits.storable(text) == want


def test_storable_cuts_to_the_limit() -> None:
    cut = limits.storable("x" * 5000)
    assert len(cut) == limits.DETAIL
    assert cut.endswith("[cut]")
    assert len(limits.storable("x" * 50, limit=4)) == 4
    # Escaping lengthens; the cut comes after it.
    assert len(limits.storable("\x00" * 4000)) == limits.DETAIL


def test_every_storable_text_passes_check_text() -> None:
    for text in ("\x00\ud800" * 3000, "ok", "\udfff"):
        assert limits.check_text("d", limits.storable(text),
                                 limits.DETAIL) is None


def test_recorded_detail_is_escaped_and_cut(tmp_path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    ledger.upgrade()
    try:
        with ledger.transaction() as tx:
            tx.record(Decision(Action.REJECT, Reason.INVALID_FIELD,
                               "name 'a\x00b\ud800' " + "x" * 5000), 1.0)
        with ledger.transaction() as tx:
            [row] = tx.decisions()
        assert row.detail.startswith("name 'a\\x00b\\ud800' xxx")
        assert len(row.detail) == limits.DETAIL
    finally:
        ledger.dispose()


# --- on PostgreSQL too, which enforces what SQLite does not ------------------

@pytest.mark.parametrize("ledger_url", [
    "sqlite_ledger_url",
    pytest.param("pg_ledger_url", marks=pytest.mark.postgres),
])
def test_ledger_takes_the_widest_request_and_unstorable_details(
        tmp_path, request, ledger_url) -> None:
    url = request.getfixturevalue(ledger_url)
    clock = FakeClock(1_800_000_000.0)
    healer = make_healer(tmp_path, ledger_url=url, clock=clock)
    try:
        wide = dataclasses.replace(widest(), source="webhook",
                                   detail="d" * limits.DETAIL)
        decisions = healer.submit(wide)
        assert decisions and all(d.reason is not Reason.INVALID_FIELD
                                 for d in decisions)
        healer.reject(Reason.MALFORMED, "bad \x00 \ud800 " + "x" * 9000,
                      "webhook")
        healer.submit(heal_request(unit("m1")))
        with healer.ledger.transaction() as tx:
            details = [r.detail for r in tx.decisions()]
        assert any(d.startswith("bad \\x00 \\ud800") for d in details)
        assert healer.counters.snapshot().get("healer.poison", 0) == 0
        assert healer.counters.snapshot().get(
            "healer.rejection_not_recorded", 0) == 0
    finally:
        healer.locks.stop()
        healer.ledger.dispose()
