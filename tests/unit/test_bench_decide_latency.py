"""bench/decide_latency.py runs and reports what it says it reports.

Only the shape of its JSON is checked: times depend on the machine, so
no test here asserts one.
"""

import importlib.util
import json
import pathlib
import sys

import pytest

BENCH = (pathlib.Path(__file__).resolve().parents[2] / "bench"
         / "decide_latency.py")


def _bench():
    spec = importlib.util.spec_from_file_location("decide_latency", BENCH)
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up by name.
    sys.modules["decide_latency"] = module
    spec.loader.exec_module(module)
    return module


def _sane(stats: dict) -> None:
    for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
        assert stats[key] > 0
    assert stats["p50_ms"] <= stats["p90_ms"] <= stats["p99_ms"] \
        <= stats["max_ms"]


def _check(result: dict, backend: str, units: int) -> None:
    assert result["units"] == units
    # Every unit raised once, plus re-sends, second alarms and clears.
    assert result["notifications"] >= units
    r = result[backend]
    _sane(r)
    _sane(r["baseline"])
    assert r["ratio_p99"] == pytest.approx(
        r["p99_ms"] / r["baseline"]["p99_ms"], rel=0.05)
    assert isinstance(r["target_met"], bool)
    assert r["target_p99_ms"] > 0
    # One decision per notification here (no poison, no replay).
    assert sum(r["reasons"].values()) == result["notifications"]
    assert r["reasons"].get("FIRST_HEAL", 0) >= 1


def test_tiny_sqlite_run_reports_percentiles_and_ratio(tmp_path, capsys):
    bench = _bench()
    rc = bench.main(["--units", "20", "--stacks", "2", "--warmup", "5",
                     "--json", "--workdir", str(tmp_path)])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    _check(result, "sqlite", 20)
    assert "postgres" not in result


def test_storm_mix_has_resends_second_alarms_and_clears():
    bench = _bench()
    notes = bench.storm(1000, 50, 1_700_000_000.0)
    reqs = [n.request for n in notes]
    first = [r for r in reqs if r.alarm_name == bench.SERVER_LOST
             and r.active]
    assert len({r.unit.key for r in first}) == 1000
    assert len({r.unit.root_stack_id for r in first}) == 50
    assert 50 < len(first) - 1000 < 150            # ~10 % re-sent
    assert 100 < sum(1 for r in reqs if r.alarm_name == bench.APP_DOWN
                     and r.active) < 300
    assert 0 < sum(1 for r in reqs if not r.active) < 100
    assert all(0.001 <= n.gap <= 0.005 for n in notes)


@pytest.mark.postgres
def test_tiny_postgres_run(postgres_url, tmp_path, capsys):
    bench = _bench()
    rc = bench.main(["--units", "20", "--stacks", "2", "--warmup", "5",
                     "--pg", "--pg-url", postgres_url, "--json",
                     "--workdir", str(tmp_path)])
    assert rc == 0
    _check(json.loads(capsys.readouterr().out), "postgres", 20)
