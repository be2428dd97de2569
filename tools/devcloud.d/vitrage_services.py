"""Helpers of tools/devcloud-vitrage: stock Vitrage services on the devcloud.

    vitrage_services.py databases URL DB...   create missing PostgreSQL dbs
    vitrage_services.py purge AMQP_URL QUEUE  drop a queue's backlog
    vitrage_services.py templates [PATH...]   add templates through the API
    vitrage_services.py ready                 the API answers, graph is up

and the gunicorn app factory ``vitrage_services:api()`` for vitrage-api.

Nothing here replaces a part of Vitrage: the API is Vitrage's own pecan app
(``vitrage.api.app.load_app``) behind keystonemiddleware, loaded from the
paste file tools/devcloud-vitrage writes; ``templates`` uses
python-vitrageclient as ``vitrage template add`` does.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


# -- vitrage-api under gunicorn ----------------------------------------------
def api():
    """WSGI app of vitrage-api (``gunicorn 'vitrage_services:api()'``).

    Vitrage's own app.wsgi parses sys.argv-less defaults (/etc/vitrage);
    here the config file comes from $VITRAGE_CONF.
    """
    conf = os.environ["VITRAGE_CONF"]
    sys.argv = ["vitrage-api", "--config-file", conf]
    from vitrage.api import app
    from vitrage.common import config

    config.parse_config(sys.argv)
    return app.load_app()


# -- set-up ------------------------------------------------------------------
def databases(url: str, names: list[str]) -> None:
    """Create each database that does not exist yet (as the devcloud role)."""
    import psycopg2

    dsn = url.replace("postgresql+psycopg2://", "postgresql://")
    conn = psycopg2.connect(dsn, connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        have = {row[0] for row in cur.fetchall()}
        for name in names:
            if name not in have:
                cur.execute(f'CREATE DATABASE "{name}"')
                print(f"created database {name}")
    conn.close()


def purge(amqp_url: str, queue: str) -> None:
    """Drop the backlog of a notification queue (earlier runs' events)."""
    import kombu

    with kombu.Connection(amqp_url, connect_timeout=5) as conn:
        ch = conn.channel()
        try:
            n = ch.queue_purge(queue)
            print(f"purged {n or 0} message(s) from {queue}")
        except conn.channel_errors:
            print(f"no queue {queue} yet")


def client(cloud: str = "devcloud"):
    """python-vitrageclient on a Keystone session of the clouds.yaml entry."""
    import openstack
    from vitrageclient import client as vclient

    conn = openstack.connect(cloud=cloud)
    return vclient.Client("1", session=conn.session, interface="public",
                          region_name=conn.config.region_name)


def add_templates(vc, paths: list[pathlib.Path]) -> list[dict]:
    """`vitrage template add --path P` for each file not loaded yet (by name).

    Returns the rows of every template of ours, after waiting until none is
    LOADING; raises on a template Vitrage rejects.
    """
    import yaml

    loaded = {t["name"]: t for t in vc.template.list()}
    for path in paths:
        with open(path) as stream:
            doc = yaml.load(stream, Loader=yaml.BaseLoader)
        name = doc["metadata"]["name"]
        row = loaded.get(name)
        if row and row.get("status") == "ERROR":
            vc.template.delete(row["uuid"])
            row = None
        if row is None:
            vc.template.add(path=str(path), template_type="standard")
            print(f"template add {path.name}", flush=True)
    deadline = time.monotonic() + 60
    while True:
        rows = vc.template.list()
        ours = [t for t in rows if t["name"].startswith("selfheal")]
        if not any(t["status"] == "LOADING" for t in ours):
            break
        if time.monotonic() > deadline:
            raise SystemExit("templates still LOADING after 60 s")
        time.sleep(0.5)
    bad = [t for t in ours if t["status"] != "ACTIVE"]
    if bad:
        raise SystemExit("templates not ACTIVE: " + "; ".join(
            f"{t['name']}: {t['status']} {t.get('status details', '')}"
            for t in bad))
    return ours


def template_files(args: list[str]) -> list[pathlib.Path]:
    found: list[pathlib.Path] = []
    for raw in args or [str(ROOT / "templates")]:
        p = pathlib.Path(raw)
        found += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return found


def ready(timeout: float) -> None:
    """The API authenticates us and vitrage-graph answers its RPC."""
    vc = client()
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            vc.template.list()
            return
        except Exception as exc:  # 503 until vitrage-graph answers
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    raise SystemExit(f"vitrage-api not ready after {timeout:.0f}s: {last}")


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("databases")
    d.add_argument("url")
    d.add_argument("names", nargs="+")
    q = sub.add_parser("purge")
    q.add_argument("amqp_url")
    q.add_argument("queue")
    t = sub.add_parser("templates")
    t.add_argument("paths", nargs="*")
    r = sub.add_parser("ready")
    r.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    if args.cmd == "databases":
        databases(args.url, args.names)
    elif args.cmd == "purge":
        purge(args.amqp_url, args.queue)
    elif args.cmd == "templates":
        for row in add_templates(client(), template_files(args.paths)):
            print(f"{row['name']}: {row['status']}")
    elif args.cmd == "ready":
        ready(args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
