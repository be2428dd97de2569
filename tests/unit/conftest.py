"""Fixtures most unit tests of the decision layer share: an injected clock
and a recording stand-in for Mistral."""

from __future__ import annotations

import pytest

from tests.unit.fakes import RecordingDispatcher
from vitrage_selfheal.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()
