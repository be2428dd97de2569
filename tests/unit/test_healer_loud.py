"""The healer says when it loses work or stops making progress."""

from __future__ import annotations

import contextlib
import logging

from tests.unit.fakes import make_healer, request, unit
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.errors import NotRecorded
from vitrage_selfheal.ledger.spool import Spool, encode
from vitrage_selfheal.metrics import Counters


def ledger_down(healer, monkeypatch) -> None:
    @contextlib.contextmanager
    def transaction():
        raise RuntimeError("ledger down (test)")
        yield  # pragma: no cover

    monkeypatch.setattr(healer.ledger, "transaction", transaction)


def test_spool_full_is_refused_loudly_and_names_what_was_refused(
        tmp_path, monkeypatch, caplog) -> None:
    healer = make_healer(tmp_path)
    healer.counters = Counters()
    one = len(encode(request(unit("m0"), alarm="a0"))) + 1
    healer.spool = Spool(str(tmp_path / "spool.jsonl"), max_bytes=3 * one)
    ledger_down(healer, monkeypatch)
    units = [unit(f"m{i}") for i in range(5)]
    refused = []
    with caplog.at_level(logging.ERROR, logger="vitrage_selfheal.healer"):
        for i, u in enumerate(units):
            try:
                assert healer.submit_or_spool(request(u, alarm=f"a{i}")) == []
            except NotRecorded:
                refused.append(u)
    assert refused == units[3:]
    counts = healer.counters.snapshot()
    assert counts["healer.spooled"] == 3
    assert counts["healer.spool_refused"] == 2
    lines = [r.getMessage() for r in caplog.records
             if "neither recorded nor spooled" in r.getMessage()]
    assert len(lines) == 2 and units[3].key in lines[0]
    assert len(healer.spool) == 3


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
