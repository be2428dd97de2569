"""The process-local counters, the throttled log line, URL masking and the
health verdicts: the pieces of 'loud, never silent'."""

from __future__ import annotations

import logging
import threading

from vitrage_selfheal import health, metrics
from vitrage_selfheal.clock import FakeClock
from vitrage_selfheal.logs import Throttled, mask_url


def test_counters_count_and_snapshot_a_copy() -> None:
    counters = metrics.Counters()
    assert counters.snapshot() == {} and counters.get("a") == 0
    assert counters.inc("b") == 1
    assert counters.inc("a", by=5) == 5
    snap = counters.snapshot()
    assert snap == {"a": 5, "b": 1} and list(snap) == ["a", "b"]
    snap["a"] = 0
    assert counters.get("a") == 5


def test_counters_are_thread_safe() -> None:
    counters = metrics.Counters()

    def work() -> None:
        for _ in range(2000):
            counters.inc("n")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counters.get("n") == 16000


def test_default_is_one_registry_per_process() -> None:
    assert metrics.default() is metrics.default()


def test_throttled_logs_once_per_interval_then_the_count(caplog) -> None:
    clock = FakeClock()
    log = Throttled(logging.getLogger("t.throttled"), logging.WARNING, 10,
                    clock)
    with caplog.at_level(logging.DEBUG, logger="t.throttled"):
        assert log.log("refused %s", "a") is True
        assert [log.log("refused %s", "b") for _ in range(3)] == [False] * 3
        clock.advance(9.9)
        assert log.log("refused %s", "c") is False
        clock.advance(0.1)
        assert log.log("refused %s", "d") is True
        clock.advance(10)
        assert log.log("refused %s", "e") is True
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "refused a"),
        (logging.WARNING, "refused d (4 more suppressed in the last 10 s)"),
        (logging.WARNING, "refused e")]


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql+psycopg2://u:pw-123@db:5432/sh") == \
        "postgresql+psycopg2://u:***@db:5432/sh"
    assert mask_url("sqlite:////var/lib/x/ledger.db") == \
        "sqlite:////var/lib/x/ledger.db"
    assert "pw-9" not in mask_url("not a url pw-9")


def test_tick_problem() -> None:
    assert health.tick_problem(None, started=100, now=130, limit=30) is None
    assert health.tick_problem(None, started=100, now=131, limit=30) == \
        "no good tick in the 31 s since start (limit 30 s)"
    assert health.tick_problem(200, started=100, now=230, limit=30) is None
    assert health.tick_problem(200, started=100, now=293, limit=30) == \
        "last good tick 93 s ago (limit 30 s)"


def test_ledger_problem(tmp_path) -> None:
    from vitrage_selfheal.ledger.store import Ledger

    good = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    assert health.ledger_problem(good) is None
    good.dispose()
    # Nothing listens on port 1: refused at once.
    bad = Ledger("postgresql+psycopg2://u:pw-77@127.0.0.1:1/x")
    problem = health.ledger_problem(bad)
    assert problem is not None
    assert problem.startswith("ledger unreachable: OperationalError: ")
    assert "pw-77" not in problem and "\n" not in problem
    bad.dispose()
    assert health.Health().ok and not health.Health(("x",)).ok


def test_into_file_keeps_the_console_for_errors(tmp_path, capsys) -> None:
    from vitrage_selfheal.logs import into_file

    log = tmp_path / "demo.log"
    vitrage = logging.getLogger("vitrage.evaluator")
    ours = logging.getLogger("vitrage_selfheal.x")
    with into_file(log):
        vitrage.warning("a long dump nobody asked for")
        ours.info("decided")
        ours.error("could not reach the ledger")
    console = capsys.readouterr().err
    assert "a long dump" not in console and "decided" not in console
    assert "could not reach the ledger" in console
    text = log.read_text()
    for line in ("a long dump", "decided", "could not reach the ledger"):
        assert line in text
    # Restored: nothing more goes to the file.
    vitrage.warning("after")
    assert "after" not in log.read_text()
