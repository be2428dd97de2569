"""The healer says when it loses work or stops making progress."""

from __future__ import annotations

import collections
import contextlib
import logging

from tests.unit.fakes import make_healer, request, unit
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.metrics import Counters


def ledger_down(healer, monkeypatch) -> None:
    @contextlib.contextmanager
    def transaction():
        raise RuntimeError("ledger down (test)")
        yield  # pragma: no cover

    monkeypatch.setattr(healer.ledger, "transaction", transaction)


def test_backlog_overflow_is_counted_and_names_what_was_dropped(
        tmp_path, monkeypatch, caplog) -> None:
    healer = make_healer(tmp_path)
    healer.counters = Counters()
    # The real limit is 10,000; the rule is the same at 3.
    healer._backlog = collections.deque(maxlen=3)
    ledger_down(healer, monkeypatch)
    units = [unit(f"m{i}") for i in range(5)]
    with caplog.at_level(logging.ERROR, logger="vitrage_selfheal.healer"):
        for i, u in enumerate(units):
            assert healer.submit(request(u, alarm=f"a{i}")) == []
    assert healer.counters.snapshot() == {"healer.backlog_dropped": 2}
    dropped = [r.getMessage() for r in caplog.records
               if r.getMessage().startswith("backlog full")]
    assert len(dropped) == 2
    assert units[0].key in dropped[0] and units[1].key in dropped[1]
    assert "selfheal.heal: server lost" in dropped[0]
    assert [r.unit for r in healer._backlog] == units[2:]


def test_last_good_tick_moves_only_on_ticks_without_errors(
        tmp_path, monkeypatch) -> None:
    clock = FakeClock()
    healer = make_healer(tmp_path, clock=clock)
    assert healer.last_good_tick is None
    healer.tick()
    assert healer.last_good_tick == clock.now()
    good = clock.now()
    clock.advance(60)
    ledger_down(healer, monkeypatch)
    healer.tick()
    assert healer.last_good_tick == good
    monkeypatch.undo()
    healer.tick()
    assert healer.last_good_tick == clock.now()
