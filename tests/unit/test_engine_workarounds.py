"""Vitrage 15 workarounds of the embedded engine, without the engine."""

from __future__ import annotations

import datetime

import pytest

from vitrage_selfheal.engine import workarounds
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


def test_aodh_detail_text_is_decoded_for_vitrage():
    payload = {"alarm_id": "a", "detail": '{"state": "alarm"}'}
    fixed = workarounds.aodh_detail_as_object("alarm.state_transition",
                                              payload)
    assert fixed["detail"] == {"state": "alarm"}
    assert payload["detail"] == '{"state": "alarm"}'  # the sender's copy


@pytest.mark.parametrize("event_type,detail", [
    ("alarm.state_transition", {"state": "ok"}),       # already an object
    ("alarm.state_transition", "not json"),            # Vitrage reports it
    ("alarm.state_transition", '["a list"]'),
    ("compute.instance.update", '{"state": "alarm"}'),  # not Aodh's
])
def test_other_aodh_details_are_left_as_sent(event_type, detail):
    payload = {"detail": detail}
    assert workarounds.aodh_detail_as_object(event_type, payload) is payload
