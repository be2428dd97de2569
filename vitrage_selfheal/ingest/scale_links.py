"""Capability links: the URL an Aodh alarm action POSTs to ask a group to
scale.

Aodh's REST notifier posts a fixed body and signs nothing, so the URL
carries the authority, as Heat's pre-signed `alarm_url` of a scaling policy
does: `/v1/scale/<token>`, where the token names the group and the step
and carries an HMAC-SHA256 of them. Whoever holds a link can ask for that
step of that group and nothing else; the request still passes the scaling
cooldown, the group's min/max and every gate of the stack's queue.

The link key is derived from the webhook secret with a label of its own,
so a link's MAC can never pass as a notification signature or the reverse.
Rotating the webhook secret revokes every link.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
from typing import Any, Optional, Union

from vitrage_selfheal.ingest.signing import secret_bytes
from vitrage_selfheal.model import GroupRef

PREFIX = "/v1/scale/"
_LABEL = b"vitrage-selfheal scale link v1"
# A token is ~300 characters; anything far longer is not one of ours.
_MAX_TOKEN = 2048


class LinkInvalid(ValueError):
    """The token was not issued with this secret, or is not a token."""


@dataclasses.dataclass(frozen=True)
class ScaleLink:
    group: GroupRef
    delta: int

    def describe(self) -> str:
        name = self.group.resource_name or self.group.group_stack_id
        return f"group {name} of stack {self.group.root_stack_id} " \
               f"by {self.delta:+d}"


def _link_key(secret: Union[str, bytes]) -> bytes:
    return hmac.new(secret_bytes(secret), _LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token(secret: Union[str, bytes], link: ScaleLink) -> str:
    if not secret:
        raise ValueError("no webhook secret: a scale link needs one")
    if link.delta == 0:
        raise ValueError("a scale link's step must not be 0")
    g = link.group
    body = json.dumps({"r": g.root_stack_id, "g": g.group_stack_id,
                       "p": g.parent_stack_id, "n": g.resource_name,
                       "d": link.delta}, separators=(",", ":"),
                      sort_keys=True).encode("utf-8")
    mac = hmac.new(_link_key(secret), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def url(base: str, secret: Union[str, bytes], link: ScaleLink) -> str:
    return base.rstrip("/") + PREFIX + token(secret, link)


def read(secret: Union[str, bytes], text: str) -> ScaleLink:
    """The link a token names; LinkInvalid if it is not one we issued."""
    if not text or len(text) > _MAX_TOKEN or not text.isascii():
        raise LinkInvalid("not a scale link token")
    body_part, _, mac_part = text.partition(".")
    try:
        body, mac = _unb64(body_part), _unb64(mac_part)
    except (binascii.Error, ValueError):
        raise LinkInvalid("not a scale link token") from None
    expected = hmac.new(_link_key(secret), body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        raise LinkInvalid("scale link not issued with this secret")
    try:
        doc = json.loads(body)
    except ValueError:
        # Signed by us yet unreadable: only a change of format does that.
        raise LinkInvalid("scale link of an unknown format") from None
    link = _from_doc(doc)
    if link is None:
        raise LinkInvalid("scale link of an unknown format")
    return link


def _from_doc(doc: Any) -> Optional[ScaleLink]:
    if not isinstance(doc, dict):
        return None
    root, group, delta = doc.get("r"), doc.get("g"), doc.get("d")
    parent, name = doc.get("p"), doc.get("n")
    if not (isinstance(root, str) and isinstance(group, str)
            and isinstance(delta, int) and not isinstance(delta, bool)
            and delta != 0):
        return None
    if not all(v is None or isinstance(v, str) for v in (parent, name)):
        return None
    return ScaleLink(GroupRef(root_stack_id=root, group_stack_id=group,
                              parent_stack_id=parent, resource_name=name),
                     delta)
