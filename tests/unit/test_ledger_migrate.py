"""Who migrates the ledger: services and `db upgrade`, under a lock; never
the operator's read commands."""

from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy as sa

from vitrage_selfheal.cli.main import main
from vitrage_selfheal.ledger import migrate
from vitrage_selfheal.ledger.store import Ledger

RACERS = 3


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request):
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_ledger_url")
    return request.getfixturevalue("pg_ledger_url")


def _racer(url, barrier, results):
    ledger = Ledger(url)
    barrier.wait(timeout=60)
    try:
        results.put(("ok", migrate.upgrade_safely(ledger.engine)))
    except Exception as exc:  # the parent reports it
        results.put(("failed", repr(exc)))
    finally:
        ledger.dispose()


def test_replicas_upgrading_an_empty_ledger_at_once_all_succeed(ledger_url):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(RACERS), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(ledger_url, barrier, results))
             for _ in range(RACERS)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert outcomes == [("ok", migrate.head())] * RACERS
    engine = sa.create_engine(ledger_url)
    with engine.connect() as conn:
        versions = conn.execute(
            sa.text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert versions == [(migrate.head(),)]


def test_upgrade_safely_on_a_ledger_at_head_changes_nothing(ledger_url):
    ledger = Ledger(ledger_url)
    assert migrate.upgrade_safely(ledger.engine) == migrate.head()
    assert migrate.upgrade_safely(ledger.engine) == migrate.head()
    migrate.require_head(ledger_url)
    ledger.dispose()


def _config(tmp_path, ledger_url):
    path = tmp_path / "selfheal.conf"
    path.write_text(f"[selfheal]\nstate_path = {tmp_path}/state\n"
                    f"ledger_url = {ledger_url}\n")
    return str(path)


def _tables(url):
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [["history"], ["status"],
                                     ["hold"], ["release"]])
def test_operator_commands_refuse_an_unmigrated_ledger_and_create_nothing(
        ledger_url, tmp_path, capsys, command):
    if ledger_url.startswith("sqlite"):
        sa.create_engine(ledger_url).connect().close()  # an empty file
    conf = _config(tmp_path, ledger_url)
    assert main(["--config-file", conf, *command]) == 3
    err = capsys.readouterr().err
    assert "revision none" in err
    assert f"expects {migrate.head()}" in err
    assert "vitrage-selfheal db upgrade" in err
    password = sa.engine.make_url(ledger_url).password
    assert not password or f":{password}@" not in err
    assert _tables(ledger_url) == []


def test_history_on_a_missing_sqlite_ledger_creates_no_file(tmp_path,
                                                            capsys):
    db = tmp_path / "nowhere" / "ledger.db"
    conf = _config(tmp_path, f"sqlite:///{db}")
    assert main(["--config-file", conf, "history"]) == 3
    assert "vitrage-selfheal db upgrade" in capsys.readouterr().err
    assert not db.parent.exists()


def test_history_names_an_older_revision(tmp_path, capsys,
                                         sqlite_ledger_url):
    ledger = Ledger(sqlite_ledger_url)
    migrate.upgrade_safely(ledger.engine)
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = "
                             "'0000'"))
    ledger.dispose()
    conf = _config(tmp_path, sqlite_ledger_url)
    assert main(["--config-file", conf, "history"]) == 3
    assert "at schema revision 0000" in capsys.readouterr().err


def test_db_upgrade_migrates_and_then_history_reads(tmp_path, capsys,
                                                    sqlite_ledger_url):
    conf = _config(tmp_path, sqlite_ledger_url)
    assert main(["--config-file", conf, "db", "upgrade"]) == 0
    assert migrate.head() in capsys.readouterr().out
    assert main(["--config-file", conf, "history"]) == 0
