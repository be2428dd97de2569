"""Heal requests from a Zaqar queue: the self-healing SIG's path, in which
Aodh event alarms' actions (`zaqar://?queue_name=Q&project_id=P`) post the
alarm to a queue; no Vitrage template is involved.

client.py talks to Zaqar, parse.py reads Aodh's alarm body, resolver.py
finds the unit of a server (the heat.unit driver's reading of Heat),
consumer.py runs the loop. `from_conf` assembles them for `serve`.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from oslo_config import cfg

from vitrage_selfheal import metrics
from vitrage_selfheal.clock import Clock, SystemClock
from vitrage_selfheal.ingest import RequestSink
from vitrage_selfheal.ingest.opts import ZAQAR_GROUP
from vitrage_selfheal.ingest.zaqar.client import ZaqarClient, ZaqarError
from vitrage_selfheal.ingest.zaqar.consumer import ZaqarConsumer
from vitrage_selfheal.ingest.zaqar.resolver import ServerUnits, heat_units

__all__ = ["ZaqarClient", "ZaqarConsumer", "ZaqarError", "client_id_for",
           "from_conf"]

# Namespace of the Client-ID derived from the replica id (any fixed UUID).
_CLIENT_NAMESPACE = uuid.UUID("6f1c9d3e-6a59-4c38-9b64-2f0f1b7c5a11")


def client_id_for(conf: cfg.ConfigOpts) -> str:
    """[selfheal_zaqar] client_id, else one derived from the replica id:
    the same across restarts, different per replica."""
    given = conf[ZAQAR_GROUP].client_id
    if given:
        try:
            return str(uuid.UUID(given))
        except ValueError:
            raise cfg.Error(f"[{ZAQAR_GROUP}] client_id {given!r} is not a "
                            f"UUID (Zaqar refuses other Client-IDs)") \
                from None
    return str(uuid.uuid5(_CLIENT_NAMESPACE, conf.selfheal.replica_id))


def from_conf(conf: cfg.ConfigOpts, sink: RequestSink,
              clock: Optional[Clock] = None,
              counters: Optional[metrics.Counters] = None,
              conn: Optional[Any] = None) -> Optional[ZaqarConsumer]:
    """The consumer `[selfheal_zaqar]` describes, not started; None when
    no queue is configured. `sink` must raise NotRecorded when the ledger
    cannot take a request (the App does; its spooling sink would make a
    message deleted before it is stored)."""
    group = conf[ZAQAR_GROUP]
    queues = [q.strip() for q in group.queues or () if q.strip()]
    if not queues:
        return None
    client_id = client_id_for(conf)
    clock = clock or SystemClock()
    counters = counters or metrics.default()
    if conn is None:
        from vitrage_selfheal import clients
        conn = clients.connection(conf)
    if group.endpoint:
        # A Zaqar without Keystone (noauth): plain HTTP, the project given.
        import requests

        if not group.project_id:
            raise cfg.Error(f"[{ZAQAR_GROUP}] project_id is needed with an "
                            f"explicit endpoint")
        session: Any = requests.Session()
        endpoint, project = group.endpoint, group.project_id
    else:
        session = conn.session
        endpoint = session.get_endpoint(service_type="messaging",
                                        interface="public")
        if not endpoint:
            raise cfg.Error(f"[{ZAQAR_GROUP}] no endpoint set and none of "
                            f"service type 'messaging' in the catalog")
        project = group.project_id or session.get_project_id()
    client = ZaqarClient(session, endpoint, project, client_id,
                         timeout=group.timeout)
    resolver = ServerUnits(heat_units(conn, all_projects=group.all_projects,
                                      counters=counters),
                           clock, ttl=group.resolver_ttl,
                           min_interval=group.resolver_min_interval,
                           counters=counters)
    return ZaqarConsumer(
        client, queues, sink, resolver, clock=clock, counters=counters,
        batch=group.batch, claim_ttl=group.claim_ttl,
        claim_grace=group.claim_grace, poll_interval=group.poll_interval,
        max_backoff=group.max_backoff,
        log_interval=group.failing_log_interval,
        failing_limit=conf.selfheal.healthz_max_tick_age)
