"""Named pause requests (medik8s pauseRequests): several per stack, each
with who and why; heals wait until every one is resumed (FakeClock)."""

from __future__ import annotations

from tests.unit.fakes import ROOT, make_healer, reasons, request, ticks, unit
from vitrage_selfheal import operator
from vitrage_selfheal.cli.main import main
from vitrage_selfheal.decide.policy import Policy
from vitrage_selfheal.model import Action, Reason


def test_heals_wait_until_every_pause_is_resumed(tmp_path, clock,
                                                 dispatcher):
    healer = make_healer(tmp_path, Policy(unit_grace=0), clock=clock,
                         dispatcher=dispatcher)
    ledger = healer.ledger
    operator.pause(ledger, clock.now(), "upgrade-42", "nova upgrade", ROOT,
                   "alice")
    operator.pause(ledger, clock.now(), "db-migration", "", None, "bob")
    out = healer.submit(request(unit("0")))
    assert [(d.action, d.reason) for d in out] == [
        (Action.HOLD, Reason.PAUSED)]
    assert "2 pause request(s)" in out[0].detail
    assert "upgrade-42" in out[0].detail and "bob" in out[0].detail
    found, left = operator.resume(ledger, clock.now(), "upgrade-42", ROOT)
    assert found and left == []         # the global one is another scope
    assert dispatcher.starts == [] and \
        Reason.FIRST_HEAL not in reasons(ticks(healer, clock))
    assert operator.resume(ledger, clock.now(), "nope") == (False,
                                                            ["db-migration"])
    operator.resume(ledger, clock.now(), "db-migration")
    out = ticks(healer, clock)
    assert Reason.FIRST_HEAL in reasons(out)
    assert Reason.BATCH_DISPATCHED in reasons(out)


def test_release_does_not_lift_pauses_and_a_queued_heal_waits(
        tmp_path, clock, dispatcher):
    healer = make_healer(tmp_path, Policy(unit_grace=0, coalesce_window=10),
                         clock=clock, dispatcher=dispatcher)
    assert reasons(healer.submit(request(unit("0")))) == [Reason.FIRST_HEAL]
    operator.pause(healer.ledger, clock.now(), "change-7", "freeze", ROOT)
    operator.release(healer.ledger, clock.now(), ROOT)
    out = ticks(healer, clock, n=5)
    assert Reason.PAUSED in reasons(out)
    assert dispatcher.starts == []
    operator.resume(healer.ledger, clock.now(), "change-7", ROOT)
    # Held while paused, reconsidered, queued again: the coalescing
    # window (10 s) runs once more.
    ticks(healer, clock, n=5)
    assert len(dispatcher.starts) == 1


def test_pause_and_resume_from_the_command_line(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/ledger.db"
    from vitrage_selfheal.ledger.store import Ledger
    Ledger(url).upgrade()
    conf = tmp_path / "selfheal.conf"
    conf.write_text(f"[selfheal]\nledger_url = {url}\n")
    cli = ["--config-file", str(conf)]
    assert main(cli + ["pause", "--name", "t-1", "--stack", ROOT,
                       "--reason", "upgrade", "--who", "carol"]) == 0
    assert main(cli + ["status"]) == 0
    out = capsys.readouterr().out
    assert "pause:t-1" in out and "by carol: upgrade" in out
    assert main(cli + ["resume", "--name", "t-2", "--stack", ROOT]) == 1
    assert "no pause 't-2'" in capsys.readouterr().err
    assert main(cli + ["resume", "--name", "t-1", "--stack", ROOT]) == 0
    assert "no pause left" in capsys.readouterr().out
