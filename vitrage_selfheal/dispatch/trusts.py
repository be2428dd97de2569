"""Keystone trusts: a stack's operations run on behalf of its owner.

The owner delegates once (`vitrage-selfheal trust create --stack S`, run
with the owner's credentials): a trust from the owner to our service user,
on the stack's project, with the owner's roles and impersonation, so the
Heat calls of the Mistral execution act as the owner. The ledger keeps the
trust id only. To start an execution, the service user's own credentials
(clouds.yaml / OS_*, as for every other call) are scoped to the trust;
Mistral runs the execution with that trust-scoped token. A trust Keystone
refuses (revoked, expired, deleted) raises TrustInvalid: the stack is held
TRUST_INVALID until a new trust is created.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from vitrage_selfheal.dispatch.base import DispatchError, DispatchRefused

LOG = logging.getLogger(__name__)

# The keys of a password auth that say who the service user is; the
# project scope is replaced by the trust.
_USER_KEYS = ("auth_url", "username", "user_id", "password",
              "user_domain_name", "user_domain_id")


class TrustInvalid(DispatchRefused):
    """Keystone would not scope a token to the stack's trust."""


class TrustSessions:
    """One keystoneauth session per trust, as the service user."""

    def __init__(self, service_auth: Mapping[str, Any],
                 verify: Any = True) -> None:
        missing = [k for k in ("auth_url", "password")
                   if not service_auth.get(k)]
        if missing:
            raise ValueError(f"the service credentials lack "
                             f"{', '.join(missing)}: trusts need a "
                             f"password auth of the service user")
        self._auth = {k: service_auth[k] for k in _USER_KEYS
                      if service_auth.get(k)}
        self._verify = verify
        self._sessions: dict[str, ks_session.Session] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_connection(cls, conn: Any) -> TrustSessions:
        return cls(conn.config.get_auth_args(), conn.config.verify)

    def session(self, trust_id: str) -> ks_session.Session:
        """A session scoped to the trust, its token fetched now: a refused
        trust raises TrustInvalid here, before anything is started."""
        with self._lock:
            sess = self._sessions.get(trust_id)
            if sess is None:
                sess = ks_session.Session(
                    auth=v3.Password(trust_id=trust_id, **self._auth),
                    verify=self._verify)
        try:
            # A fresh token per start: a cached one outlives a revoked
            # trust, and starts are rare.
            sess.invalidate()
            sess.get_token()
        except (ks_exceptions.Unauthorized, ks_exceptions.NotFound,
                ks_exceptions.Forbidden) as exc:
            with self._lock:
                self._sessions.pop(trust_id, None)
            raise TrustInvalid(f"Keystone refused trust {trust_id}: "
                               f"{type(exc).__name__}") from None
        except ks_exceptions.ClientException as exc:
            # Keystone down or slow: not the trust's fault; retried.
            raise DispatchError(f"Keystone unreachable for trust "
                                f"{trust_id}: {type(exc).__name__}") from None
        with self._lock:
            self._sessions[trust_id] = sess
        return sess


def create_trust(owner: Any, trustee_user_id: str,
                 roles: Optional[Sequence[str]] = None) -> Any:
    """A trust from the connection's user (the stack's owner) to our
    service user on the owner's project, with impersonation. The roles
    default to the owner's own roles on the project."""
    if roles is None:
        access = owner.session.auth.get_access(owner.session)
        roles = list(access.role_names)
    if not roles:
        raise ValueError("the owner has no role on the project to "
                         "delegate")
    return owner.identity.create_trust(
        trustor_user_id=owner.current_user_id,
        trustee_user_id=trustee_user_id,
        project_id=owner.current_project_id, impersonation=True,
        roles=[{"name": r} for r in roles])
