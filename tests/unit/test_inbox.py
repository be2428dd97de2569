"""The inbox between Vitrage's thread and the ledger: hand-off, batches,
order, back-pressure, and a crash between hand-off and storage."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from tests.unit.fakes import make_healer, request, unit
from vitrage_selfheal.ingest.inbox import Inbox, order_batch
from vitrage_selfheal.ledger.journal import Journal
from vitrage_selfheal.ledger.models import AlarmRow, DecisionRow
from vitrage_selfheal.metrics import Counters
from vitrage_selfheal.model import Reason


def reasons(healer) -> list[str]:
    with healer.ledger.transaction() as tx:
        return [r.reason for r in tx.s.scalars(
            sa.select(DecisionRow).order_by(DecisionRow.id))]


def test_order_puts_each_alarm_s_first_activation_before_clears():
    u = unit("0")
    app_clear = request(u, alarm="app", active=False)
    host_raise = request(u, alarm="host")
    flap = [request(u, alarm="f"), request(u, alarm="f", active=False)]
    ordered = order_batch([app_clear, flap[0], host_raise, flap[1]])
    assert ordered == [flap[0], flap[1], host_raise, app_clear]


def test_a_withdrawn_symptom_does_not_cancel_the_heal_its_cause_raises(
        tmp_path):
    """The false "recovered by itself": Vitrage withdraws the application
    alarm and raises the host alarm in one change, clear first."""
    healer = make_healer(tmp_path)
    u = unit("0")
    healer.submit(request(u, alarm="app"))
    decisions, kept = healer.submit_batch(order_batch(
        [request(u, alarm="app", active=False), request(u, alarm="host")]))
    assert kept == []
    assert [d.reason for d in decisions] == [Reason.ALREADY_HEALING,
                                             Reason.ALARM_CLEARED]
    assert "recovered" not in decisions[1].detail
    with healer.ledger.transaction() as tx:
        assert tx.open_intent(u.key) is not None


def test_submit_returns_at_once_and_the_drainer_stores_in_batches(tmp_path):
    healer = make_healer(tmp_path)
    inbox = Inbox(healer, Journal(str(tmp_path / "inbox.jsonl")),
                  linger=0.0, counters=Counters())
    units = [unit(str(n), size=100) for n in range(20)]
    for u in units:
        assert inbox.submit(request(u)) == []
    assert reasons(healer) == []          # nothing stored yet: not started
    inbox.start()
    try:
        assert inbox.flush()
    finally:
        inbox.stop()
    assert reasons(healer) == [Reason.FIRST_HEAL.value] * 20
    assert inbox.counters.get("inbox.stored") == 20
    assert not list(tmp_path.glob("inbox.jsonl.*.draining"))


def test_a_full_inbox_stores_in_the_caller_s_thread(tmp_path):
    healer = make_healer(tmp_path)
    inbox = Inbox(healer, None, max_items=1, counters=Counters())
    assert inbox.submit(request(unit("0"))) == []
    out = inbox.submit(request(unit("1")))
    assert [d.reason for d in out] == [Reason.FIRST_HEAL]
    assert inbox.counters.get("inbox.full") == 1


def test_requests_handed_over_before_a_crash_are_stored_after_restart(
        tmp_path):
    path = str(tmp_path / "inbox.jsonl")
    healer = make_healer(tmp_path)
    crashed = Inbox(healer, Journal(path), counters=Counters())
    for n in range(3):
        crashed.submit(request(unit(str(n), size=100)))
    # A segment being drained when the process died, and live entries.
    crashed.journal.rotate()
    crashed.submit(request(unit("3", size=100)))
    crashed.journal.close()
    restarted = Inbox(healer, Journal(path), linger=0.0,
                      counters=Counters()).start()
    try:
        assert restarted.flush()
    finally:
        restarted.stop()
    assert reasons(healer) == [Reason.FIRST_HEAL.value] * 4
    assert restarted.counters.get("inbox.recovered") == 4
    assert list(tmp_path.glob("inbox.jsonl*")) == []


def test_a_poison_request_is_rejected_alone_and_the_batch_is_stored(
        tmp_path):
    healer = make_healer(tmp_path)
    good = request(unit("0"))
    poison = dataclasses.replace(request(unit("1")), alarm_name="x\ud800y")
    decisions, kept = healer.submit_batch([good, poison])
    assert kept == []
    assert reasons(healer) == [Reason.FIRST_HEAL.value,
                               Reason.INVALID_FIELD.value]
    with healer.ledger.transaction() as tx:
        assert [a.unit_key for a in tx.s.scalars(sa.select(AlarmRow))] \
            == [good.unit.key]


def test_a_ledger_outage_keeps_the_batch_for_the_next_drain(tmp_path):
    healer = make_healer(tmp_path)
    inbox = Inbox(healer, Journal(str(tmp_path / "inbox.jsonl")),
                  counters=Counters())
    inbox.submit(request(unit("0")))
    real = healer.ledger.transaction

    def down():
        raise sa.exc.OperationalError("stmt", {}, Exception("db down"))
    healer.ledger.transaction = down
    assert inbox.drain() is False
    assert len(inbox) == 1
    healer.ledger.transaction = real
    assert inbox.drain() is True
    assert reasons(healer) == [Reason.FIRST_HEAL.value]
