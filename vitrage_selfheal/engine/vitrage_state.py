"""Vitrage's process-wide state (module globals, CONF, transports) that
one embedded engine leaves behind for the next one in the same process."""

from __future__ import annotations

import logging
from typing import Any, Optional

LOG = logging.getLogger(__name__)


def forget_previous_engine() -> None:
    """Vitrage keeps drivers and entity ids in module globals; a new engine
    in the same process (tests, simulate runs) must not inherit them."""
    from vitrage.datasources import utils
    from vitrage.datasources.transformer_base import TransformerBase

    utils.drivers.clear()
    TransformerBase.key_to_uuid_cache.clear()


def close_transports() -> None:
    """Vitrage caches its transports per process; the next engine may use
    another URL."""
    from vitrage import messaging

    for transport in list(messaging.TRANSPORTS.values()):
        try:
            transport.cleanup()
        except Exception:
            LOG.exception("closing a transport failed")
    messaging.TRANSPORTS.clear()


def auth_plugin(conf: Any) -> Optional[str]:
    try:
        return conf.service_credentials.auth_type
    except Exception:  # group or option absent: nothing was registered
        return None


def forget_auth_plugin_options(conf: Any, plugin: Optional[str]) -> None:
    """keystoneauth registers the auth plugin's options (auth_url is
    required) in [service_credentials] when Vitrage's clients load it; a
    later engine without credentials would then fail to parse."""
    from keystoneauth1 import loading

    if not plugin:
        return
    try:
        conf.unregister_opts(loading.get_auth_plugin_conf_options(plugin),
                             group="service_credentials")
    except Exception:
        LOG.debug("auth options of %s were not registered", plugin)
