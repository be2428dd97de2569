"""OpenStack clients, built once from the configuration and injected.

Credentials come from clouds.yaml / OS_* through openstacksdk; a
`[mistral] endpoint` or `[openstack] heat_endpoint` override serves
deployments (and tests) that run those services without Keystone.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import requests
from oslo_config import cfg

from vitrage_selfheal.dispatch.mistral import MistralDispatcher
from vitrage_selfheal.dispatch.trusts import TrustSessions
from vitrage_selfheal.opts import workflow_input

LOG = logging.getLogger(__name__)


def connection(conf: cfg.ConfigOpts) -> Any:
    """An openstacksdk Connection, imported lazily: it is slow to load."""
    import openstack

    kwargs = {}
    heat = conf.openstack.heat_endpoint
    if heat:
        kwargs["orchestration_endpoint_override"] = heat
    return openstack.connect(cloud=conf.openstack.cloud or None, **kwargs)


class HeatStatus:
    """Heat's stack_status of a root stack, None when it cannot be read."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def __call__(self, root_stack_id: str) -> Optional[str]:
        stack = self._conn.orchestration.find_stack(root_stack_id,
                                                    ignore_missing=True)
        return None if stack is None else stack.status


def mistral_dispatcher(conf: cfg.ConfigOpts,
                       conn: Optional[Any] = None) -> MistralDispatcher:
    if conf.mistral.endpoint:
        session: Any = requests.Session()
        endpoint = conf.mistral.endpoint
    else:
        conn = conn or connection(conf)
        session = conn.session
        endpoint = session.get_endpoint(service_type="workflowv2",
                                        interface="public")
    return MistralDispatcher(session, endpoint,
                             workflow_name=conf.mistral.workflow,
                             timeout=conf.mistral.timeout,
                             workflow_input=workflow_input(conf),
                             trusts=trust_sessions(conn))


def trust_sessions(conn: Optional[Any]) -> Optional[TrustSessions]:
    """Trust-scoped sessions as our service user, if its credentials are
    a password auth (a trust cannot be used with anything else)."""
    if conn is None:
        return None
    try:
        return TrustSessions.from_connection(conn)
    except ValueError as exc:
        LOG.warning("stack trusts cannot be used: %s", exc)
        return None
