"""A small Zaqar v2 client: claim messages, delete them, release a claim.

I/O only; what a message means is parse.py's, what to do with it the
consumer's. Works over a keystoneauth1 Session (endpoint from the catalog,
service type `messaging`) or, with an explicit endpoint, over a
requests.Session; both are called with keywords, since keystoneauth's
`request()` takes (url, method) and requests' takes (method, url).

Every call carries `Client-ID` (Zaqar refuses calls without it) and
`X-Project-ID` (the queue's project; without Keystone the only way Zaqar
knows it).
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from typing import Any, Optional

import requests
from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session

__all__ = ["Message", "ZaqarClient", "ZaqarError", "api_root"]

_NETWORK_ERRORS = (requests.RequestException, ks_exceptions.ClientException,
                   OSError)
_MAX_SHOWN = 200


class ZaqarError(Exception):
    """A Zaqar call failed: unreachable (status None) or an unexpected
    answer. Names the call, so one log line says what to look at."""

    def __init__(self, method: str, url: str, status: Optional[int],
                 detail: str) -> None:
        self.method, self.url, self.status = method, url, status
        self.detail = detail
        shown = "unreachable" if status is None else f"HTTP {status}"
        super().__init__(f"Zaqar {method} {url}: {shown}: {detail}")


@dataclasses.dataclass(frozen=True)
class Message:
    """A claimed message. `body` is as Zaqar gave it (any JSON value);
    `age` is the seconds since it was posted."""

    id: str
    body: Any
    claim_id: str
    age: float = 0.0


def api_root(endpoint: str) -> str:
    """`http://host:8888/v2` from a catalog or configured endpoint, with or
    without the version (catalogs list Zaqar both ways)."""
    root = endpoint.rstrip("/")
    if root.endswith("/v2"):
        return root
    if root.endswith(("/v1", "/v1.1")):
        root = root.rsplit("/", 1)[0]
    return root + "/v2"


class ZaqarClient:
    def __init__(self, session: Any, endpoint: str, project_id: str,
                 client_id: str, timeout: float = 10.0) -> None:
        self.session = session
        self.root = api_root(endpoint)
        self.project_id = project_id
        self.client_id = client_id
        self.timeout = timeout

    def claim(self, queue: str, limit: int, ttl: int,
              grace: int) -> list[Message]:
        """Up to `limit` messages of `queue`, claimed for `ttl` seconds;
        [] when the queue has none (204)."""
        url = (f"{self._queue(queue)}/claims?"
               f"{urllib.parse.urlencode({'limit': limit})}")
        answer = self._call("POST", url, json={"ttl": ttl, "grace": grace})
        if answer.status_code == 204:
            return []
        if answer.status_code not in (200, 201):
            raise ZaqarError("POST", url, answer.status_code,
                             _text(answer))
        try:
            document = answer.json()
        except ValueError as exc:
            raise ZaqarError("POST", url, answer.status_code,
                             f"answer is not JSON ({exc}): "
                             f"{_text(answer)}") from None
        # Zaqar v2 answers {"messages": [...]}; older proxies a bare list.
        listed = document.get("messages") if isinstance(document, dict) \
            else document
        if not isinstance(listed, list):
            raise ZaqarError("POST", url, answer.status_code,
                             f"no list of messages in {_text(answer)}")
        fallback = _claim_of(_header(answer, "Location"))
        return [_message(m, fallback, url, answer.status_code)
                for m in listed]

    def delete(self, queue: str, message_id: str, claim_id: str) -> None:
        """Delete (acknowledge) a claimed message; gone already is fine."""
        url = (f"{self._queue(queue)}/messages/"
               f"{urllib.parse.quote(message_id, safe='')}?"
               f"{urllib.parse.urlencode({'claim_id': claim_id})}")
        self._expect("DELETE", url, (204, 404))

    def release(self, queue: str, claim_id: str) -> None:
        """Give the claim's undeleted messages back to the queue now,
        instead of when the claim expires."""
        url = (f"{self._queue(queue)}/claims/"
               f"{urllib.parse.quote(claim_id, safe='')}")
        self._expect("DELETE", url, (204, 404))

    # -- plumbing -------------------------------------------------------------
    def _queue(self, queue: str) -> str:
        return f"{self.root}/queues/{urllib.parse.quote(queue, safe='')}"

    def _expect(self, method: str, url: str, ok: tuple[int, ...]) -> None:
        answer = self._call(method, url)
        if answer.status_code not in ok:
            raise ZaqarError(method, url, answer.status_code, _text(answer))

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {"Client-ID": self.client_id,
                   "X-Project-ID": self.project_id,
                   "Accept": "application/json"}
        if isinstance(self.session, (ks_session.Session, ks_adapter.Adapter)):
            # The status is ours to read (204 empty, 404 gone).
            kwargs["raise_exc"] = False
        try:
            return self.session.request(url=url, method=method,
                                        headers=headers,
                                        timeout=self.timeout, **kwargs)
        except _NETWORK_ERRORS as exc:
            raise ZaqarError(method, url, None,
                             f"{type(exc).__name__}: {exc}") from exc


def _message(doc: Any, fallback: Optional[str], url: str,
             status: int) -> Message:
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) \
            or not doc["id"]:
        # Without an id nothing can be deleted: a broken answer, not a
        # poison message (those are the body's problem).
        raise ZaqarError("POST", url, status,
                         f"claimed message without an id: "
                         f"{_shown(doc)}")
    claim = _claim_of(doc.get("href")) or fallback
    if not claim:
        raise ZaqarError("POST", url, status,
                         f"message {doc['id']} names no claim_id: "
                         f"{_shown(doc)}")
    age = doc.get("age")
    return Message(id=doc["id"], body=doc.get("body"), claim_id=claim,
                   age=float(age) if isinstance(age, (int, float))
                   and not isinstance(age, bool) else 0.0)


def _claim_of(href: Any) -> Optional[str]:
    """The claim id of a message href (`...?claim_id=C`) or of a claim's
    Location (`.../claims/C`)."""
    if not isinstance(href, str) or not href:
        return None
    parsed = urllib.parse.urlparse(href)
    found = urllib.parse.parse_qs(parsed.query).get("claim_id")
    if found and found[0]:
        return found[0]
    head, _, last = parsed.path.rstrip("/").rpartition("/")
    return last if head.endswith("/claims") and last else None


def _header(answer: Any, name: str) -> Optional[str]:
    headers = getattr(answer, "headers", None) or {}
    value = headers.get(name)
    return value if isinstance(value, str) else None


def _text(answer: Any) -> str:
    text = getattr(answer, "text", "")
    if not isinstance(text, str):
        text = repr(text)
    text = " ".join(text.split())
    return (text[:_MAX_SHOWN] + "...") if len(text) > _MAX_SHOWN else \
        (text or "(empty)")


def _shown(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return (text[:_MAX_SHOWN] + "...") if len(text) > _MAX_SHOWN else text
