"""Vitrage 15 workarounds of the embedded engine, without the engine."""

from __future__ import annotations

import datetime

import pytest

from vitrage_selfheal.engine.workarounds import with_microseconds

pytest.importorskip("vitrage")


def _parsed(stamp: str) -> str:
    # What Vitrage's EvaluatorEventTransformer does with the stamp.
    from vitrage.datasources import transformer_base

    return transformer_base.convert_timestamp_format(
        "%Y-%m-%d %H:%M:%S.%f", stamp)


def test_a_stamp_at_microsecond_zero_is_completed_and_parses():
    stamp = str(datetime.datetime(2026, 1, 1, 0, 0, 0))
    with pytest.raises(ValueError):
        _parsed(stamp)
    action = with_microseconds({"update_timestamp": stamp, "x": 1})
    assert action == {"update_timestamp": "2026-01-01 00:00:00.000000",
                      "x": 1}
    assert _parsed(action["update_timestamp"]) == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("action", [
    {"update_timestamp": "2026-01-01 00:00:00.000001"},
    {"update_timestamp": None},
    {},
    "not a dict",
])
def test_other_actions_are_left_as_they_are(action):
    before = dict(action) if isinstance(action, dict) else action
    assert with_microseconds(action) == before
