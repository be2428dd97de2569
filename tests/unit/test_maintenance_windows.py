"""Maintenance windows: parsing, which moments are inside, and stack
operations waiting for the end (FakeClock)."""

from __future__ import annotations

import datetime

import pytest

from tests.unit.fakes import make_healer, request, unit
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.decide.windows import Window, parse_windows
from vitrage_selfheal.model import Reason

UTC = datetime.timezone.utc


def at(text: str) -> float:
    """Epoch seconds of 'YYYY-mm-dd HH:MM' UTC."""
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(
        tzinfo=UTC).timestamp()


# 2026-12-05 is a Saturday.
@pytest.mark.parametrize("spec, moment, end", [
    ("sat 02:00-04:00", "2026-12-05 02:00", "2026-12-05 04:00"),
    ("sat 02:00-04:00", "2026-12-05 03:59", "2026-12-05 04:00"),
    ("sat 02:00-04:00", "2026-12-05 04:00", None),
    ("sat 02:00-04:00", "2026-12-06 03:00", None),
    ("sat,sun 02:00-04:00", "2026-12-06 03:00", "2026-12-06 04:00"),
    ("fri-mon 02:00-04:00", "2026-12-07 02:30", "2026-12-07 04:00"),
    ("fri-mon 02:00-04:00", "2026-12-08 02:30", None),
    # Past midnight: Saturday 22:00 to Sunday 02:00.
    ("sat 22:00-02:00", "2026-12-05 23:00", "2026-12-06 02:00"),
    ("sat 22:00-02:00", "2026-12-06 01:30", "2026-12-06 02:00"),
    ("sat 22:00-02:00", "2026-12-05 01:30", None),
    ("* 00:00-00:30", "2026-12-09 00:10", "2026-12-09 00:30"),
])
def test_inside_or_not(spec, moment, end):
    got = Window.parse(spec).ends_after(at(moment))
    assert got == (None if end is None else at(end))


@pytest.mark.parametrize("spec, named", [
    ("saturday 02:00-04:00", "days are mon"),
    ("sat 2:00-04:00", "is not '<days> HH:MM-HH:MM'"),
    ("sat 25:00-04:00", "no such time"),
    ("sat 02:00-02:00", "is empty"),
    ("02:00-04:00", "is not"),
])
def test_a_bad_window_is_named(spec, named):
    with pytest.raises(ValueError, match=named):
        Window.parse(spec)


def test_the_config_option_parses_or_names_the_option(tmp_path):
    from oslo_config import cfg

    from vitrage_selfheal import opts
    conf = opts.register(cfg.ConfigOpts())
    conf([], default_config_files=[])
    conf.set_override("maintenance_windows",
                      ["sat,sun 02:00-04:00", "mon-fri 23:00-01:00"],
                      group="selfheal_policy")
    policy = opts.policy_from(conf)
    assert [w.text for w in policy.maintenance_windows] == [
        "sat,sun 02:00-04:00", "mon-fri 23:00-01:00"]
    conf.set_override("maintenance_windows", ["sat 2-4"],
                      group="selfheal_policy")
    with pytest.raises(cfg.Error, match=r"\[selfheal_policy\].*sat 2-4"):
        opts.policy_from(conf)


def test_a_heal_in_a_window_waits_for_its_end(tmp_path, dispatcher):
    from vitrage_selfheal.clock import FakeClock
    clock = FakeClock(at("2026-12-05 03:50"))
    policy = Policy(unit_grace=0, maintenance_windows=parse_windows(
        ["sat 02:00-04:00"]))
    healer = make_healer(tmp_path, policy, clock=clock,
                         dispatcher=dispatcher)
    assert [d.reason for d in healer.submit(request(unit("0")))] == [
        Reason.FIRST_HEAL]
    seen = []
    for _ in range(5):                        # 03:50 .. 03:55
        clock.advance(60)
        seen += healer.tick()
    waits = [d for d in seen if d.reason is Reason.MAINTENANCE_WINDOW]
    assert len(waits) == 1 and "2026-12-05 04:00 UTC" in waits[0].detail
    assert dispatcher.starts == []
    clock.advance(5 * 60)                     # 04:00
    seen = healer.tick()
    assert Reason.BATCH_DISPATCHED in [d.reason for d in seen]
