"""Vitrage's `update_timestamp` of an alarm, as epoch seconds.

Vitrage writes `str(datetime)` of a naive UTC time: '2026-11-25
10:00:00.000000', or '2026-11-25 10:00:00' when the microsecond is 0.
Other senders write ISO 8601 ('2026-11-25T10:00:00Z', '...+00:00'). Only
these shapes are read, with ASCII digits: a looser reading (any digit
Unicode knows, a date alone) could order events by a time nobody meant.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Optional

_UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=_UTC)
_STAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[ T]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,6}))?"
    r"(?:(?P<zulu>[Zz])|(?P<sign>[+-])(?P<off_h>[0-9]{2}):?"
    r"(?P<off_m>[0-9]{2}))?")


def epoch_of(value: Any) -> Optional[float]:
    """Epoch seconds of an update_timestamp; None if it cannot be read.

    A time without an offset is UTC, as Vitrage's are.
    """
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=_UTC)
        return (moment - _EPOCH).total_seconds()
    if not isinstance(value, str):
        return None
    match = _STAMP.fullmatch(value.strip())
    if match is None:
        return None
    part = match.groupdict()
    zone = _UTC
    if part["sign"]:
        if int(part["off_m"]) > 59:
            return None
        offset = datetime.timedelta(hours=int(part["off_h"]),
                                    minutes=int(part["off_m"]))
        if offset >= datetime.timedelta(days=1):
            return None
        zone = datetime.timezone(-offset if part["sign"] == "-" else offset)
    try:
        moment = datetime.datetime(
            int(part["year"]), int(part["month"]), int(part["day"]),
            int(part["hour"]), int(part["minute"]), int(part["second"]),
            int((part["fraction"] or "0").ljust(6, "0")), tzinfo=zone)
    except ValueError:
        return None  # no such day or time (month 13, 25:00, 30 February)
    return (moment - _EPOCH).total_seconds()
