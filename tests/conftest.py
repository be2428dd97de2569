"""Shared pytest fixtures.

PostgreSQL: ``postgres_url`` starts a throwaway server with ``tools/pg``
(installing Debian's package if needed) and stops it at the end of the
session if it was this fixture that started it.  When the server cannot
be started the fixture fails; set ``SELFHEAL_SKIP_POSTGRES=1`` to skip
the PostgreSQL tests instead.
"""

import os
import pathlib
import subprocess
import uuid

import pytest

# The local cloud's session fixtures (devcloud, conn, mistral), shared by
# tests/cloud and tests/faults.
pytest_plugins = ["tests.cloudfixtures"]

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
PG_TOOL = REPO_ROOT / "tools" / "pg"

# Installing the postgresql package on a fresh machine takes a while;
# starting an initialised server takes about a second.
PG_START_TIMEOUT = 600
PG_STOP_TIMEOUT = 120

_POSTGRES_FIXTURES = {"postgres_url", "pg_ledger_url"}


def pytest_collection_modifyitems(config, items):
    # Tests that use a PostgreSQL fixture carry the ``postgres`` marker
    # even when they forgot to declare it, so ``-m 'not postgres'`` works.
    for item in items:
        if _POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def _pg(*args, timeout):
    return subprocess.run(
        [str(PG_TOOL), *args],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _connect(url, dbname=None):
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg2.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        dbname=dbname or u.database,
        connect_timeout=10,
    )
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def postgres_url():
    """URL of the ``selfheal`` database on the throwaway server."""
    if os.environ.get("SELFHEAL_SKIP_POSTGRES") == "1":
        pytest.skip("SELFHEAL_SKIP_POSTGRES=1: PostgreSQL tests skipped")

    already_running = _pg("status", timeout=30).returncode == 0
    try:
        res = _pg("start", timeout=PG_START_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"tools/pg start did not finish within {PG_START_TIMEOUT}s; "
            "set SELFHEAL_SKIP_POSTGRES=1 to skip PostgreSQL tests",
            pytrace=False,
        )
    if res.returncode != 0:
        pytest.fail(
            "could not start PostgreSQL with tools/pg start "
            f"(exit {res.returncode}):\n{res.stdout}{res.stderr}\n"
            "set SELFHEAL_SKIP_POSTGRES=1 to skip PostgreSQL tests",
            pytrace=False,
        )
    url = _pg("url", timeout=30).stdout.strip()

    try:
        _connect(url).close()
    except Exception as exc:
        if not already_running:
            _pg("stop", timeout=PG_STOP_TIMEOUT)
        pytest.fail(
            f"PostgreSQL started but {url} is not reachable: {exc}",
            pytrace=False,
        )

    try:
        yield url
    finally:
        if not already_running:
            _pg("stop", timeout=PG_STOP_TIMEOUT)


@pytest.fixture
def pg_ledger_url(postgres_url):
    """URL of a fresh, empty database, dropped after the test."""
    from sqlalchemy.engine import make_url

    name = f"selfheal_t_{uuid.uuid4().hex[:16]}"
    conn = _connect(postgres_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()

    url = make_url(postgres_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        conn = _connect(postgres_url)
        try:
            with conn.cursor() as cur:
                # FORCE ends connections a test left open (PostgreSQL 13+).
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


@pytest.fixture
def sqlite_ledger_url(tmp_path):
    """URL of an SQLite ledger file in the test's temporary directory."""
    return f"sqlite:///{tmp_path}/ledger.db"
