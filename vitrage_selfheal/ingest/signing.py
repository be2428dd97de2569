"""Signatures of the selfheal webhook (the sending Vitrage plugin and the
receiver).

HMAC-SHA256 over `f"{timestamp}.".encode() + body`, hex, in
`X-Selfheal-Signature: sha256=<hex>`, the timestamp (integer seconds) in
`X-Selfheal-Timestamp`. Signing the timestamp with the body and bounding
its age makes a captured request useless after `max_skew` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional, Union

SIGNATURE_HEADER = "X-Selfheal-Signature"
TIMESTAMP_HEADER = "X-Selfheal-Timestamp"
_SCHEME = "sha256="


def _material(ts: str, body: bytes) -> bytes:
    return f"{ts}.".encode() + body


def secret_bytes(secret: Union[str, bytes]) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: Union[str, bytes], body: bytes,
         ts: Union[int, float]) -> dict[str, str]:
    """The signature headers for `body` sent at time `ts` (epoch seconds)."""
    stamp = str(int(ts))
    digest = hmac.new(secret_bytes(secret), _material(stamp, body),
                      hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: _SCHEME + digest}


def verify(secret: Union[str, bytes], body: bytes, ts_header: Optional[str],
           sig_header: Optional[str], now: float,
           max_skew: float) -> Optional[str]:
    """None if the request is authentic and fresh, else why not."""
    if not ts_header or not sig_header:
        return "unsigned request"
    # isdigit() alone accepts '²' and other digits int() cannot read.
    if not (ts_header.isascii() and ts_header.isdigit()) or \
            len(ts_header) > 12:
        return "bad timestamp"
    if abs(now - int(ts_header)) > max_skew:
        return "stale or future timestamp"
    if not sig_header.startswith(_SCHEME):
        return "bad signature"
    expected = hmac.new(secret_bytes(secret), _material(ts_header, body),
                        hashlib.sha256).hexdigest()
    given = sig_header[len(_SCHEME):].strip()
    # compare_digest on ASCII str raises TypeError for non-ASCII input.
    if not given.isascii() or not hmac.compare_digest(expected, given):
        return "bad signature"
    return None
