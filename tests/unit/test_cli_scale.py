"""`vitrage-selfheal scale`: a manual scale request, queued in the ledger
for the service's ticker; no Heat or Mistral call for a nested stack id."""

from __future__ import annotations

from vitrage_selfheal.cli.main import main
from vitrage_selfheal.ledger.store import Ledger

ROOT = "11111111-1111-1111-1111-111111111111"
NESTED = "22222222-2222-2222-2222-222222222222"


def config(tmp_path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    ledger = Ledger(url)
    ledger.upgrade()
    path = tmp_path / "selfheal.conf"
    path.write_text(f"[selfheal]\nledger_url = {url}\n")
    return str(path), ledger


def test_scale_queues_a_request_that_adds_up(tmp_path, capsys):
    conf, ledger = config(tmp_path)
    argv = ["--config-file", conf, "scale", "--stack", ROOT, "--group",
            NESTED, "--by"]
    assert main(argv + ["2"]) == 0
    assert "SCALE_OUT" in capsys.readouterr().out
    assert main(argv + ["1"]) == 0
    assert "now +3" in capsys.readouterr().out
    with ledger.transaction() as tx:
        (row,) = tx.open_scales(ROOT)
        assert (row.group_key, row.delta, row.manual) == (NESTED, 3, True)
        assert [d.reason for d in tx.decisions()] == ["SCALE_OUT",
                                                      "SCALE_MERGED"]


def test_scale_by_zero_is_refused(tmp_path, capsys):
    conf, _ = config(tmp_path)
    assert main(["--config-file", conf, "scale", "--stack", ROOT,
                 "--group", NESTED, "--by", "0"]) == 2
    assert "--by must not be 0" in capsys.readouterr().err
