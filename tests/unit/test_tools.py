"""Checks of the helper scripts under tools/ that need no services."""

import os
import pathlib
import subprocess

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def _pg_url(**env):
    res = subprocess.run(
        [str(REPO_ROOT / "tools" / "pg"), "url"],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return res.stdout.strip()


def test_pg_url_is_loopback_postgresql():
    url = _pg_url(PGTEST_PORT="55432")
    assert url == (
        "postgresql+psycopg2://selfheal:selfheal@127.0.0.1:55432/selfheal"
    )


def test_pg_url_follows_pgtest_port():
    url = _pg_url(PGTEST_PORT="56789")
    assert url.startswith("postgresql+psycopg2://")
    assert "@127.0.0.1:56789/" in url
