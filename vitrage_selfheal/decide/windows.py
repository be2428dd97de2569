"""Maintenance windows: times during which stack operations wait
(Alertmanager's mute_time_intervals; medik8s pauses a remediation the same
way during a cluster upgrade).

A window is written `<days> HH:MM-HH:MM`, in UTC: days `mon`..`sun`, a
comma list or a range (`mon-fri`), or `*` for every day; an end before the
start runs past midnight into the next day (`sat 22:00-02:00`).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterable
from typing import Optional

from vitrage_selfheal.decide.stage import StackContext
from vitrage_selfheal.model import Action, Decision, Reason

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^\s*(\S+)\s+(\d\d):(\d\d)\s*-\s*(\d\d):(\d\d)\s*$")
_MINUTES_PER_DAY = 24 * 60


@dataclasses.dataclass(frozen=True)
class Window:
    text: str
    days: frozenset[int]          # 0 = Monday, as datetime.weekday()
    start: int                    # minutes after midnight, UTC
    end: int

    @classmethod
    def parse(cls, text: str) -> Window:
        found = _SPEC.match(text)
        if not found:
            raise ValueError(f"maintenance window {text!r} is not "
                             f"'<days> HH:MM-HH:MM' (UTC), e.g. "
                             f"'sat,sun 02:00-04:00'")
        days = _days(found.group(1), text)
        h1, m1, h2, m2 = (int(g) for g in found.groups()[1:])
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"maintenance window {text!r}: no such time")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end:
            raise ValueError(f"maintenance window {text!r} is empty")
        return cls(text.strip(), days, start, end)

    def ends_after(self, now: float) -> Optional[float]:
        """The end (epoch seconds) of this window if `now` is inside it."""
        moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        minute = (now - midnight.timestamp()) / 60.0
        # Today's occurrence, and yesterday's if it runs past midnight.
        for back in (0, 1):
            day = (moment.weekday() - back) % 7
            if day not in self.days:
                continue
            begin = self.start - back * _MINUTES_PER_DAY
            length = (self.end - self.start) % _MINUTES_PER_DAY
            if begin <= minute < begin + length:
                return midnight.timestamp() + (begin + length) * 60.0
        return None


def _days(text: str, spec: str) -> frozenset[int]:
    if text == "*":
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        try:
            a = DAYS.index(first)
            b = DAYS.index(last) if last else a
        except ValueError:
            raise ValueError(f"maintenance window {spec!r}: days are "
                             f"{', '.join(DAYS)}, a range like mon-fri or "
                             f"*; got {part!r}") from None
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days)


def parse_windows(texts: Iterable[str]) -> tuple[Window, ...]:
    return tuple(Window.parse(t) for t in texts if t.strip())


class MaintenanceWindow:
    """Inside a window a stack's operations wait; heals are admitted and
    queued as usual and start when it ends."""

    def check(self, ctx: StackContext) -> Optional[Decision]:
        inside = [(w.text, end) for w in ctx.policy.maintenance_windows
                  if (end := w.ends_after(ctx.now)) is not None]
        if not inside:
            return None
        until = max(end for _, end in inside)
        names = ", ".join(text for text, _ in inside)
        end = datetime.datetime.fromtimestamp(
            until, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return ctx.decide(Action.WAIT, Reason.MAINTENANCE_WINDOW,
                          f"in maintenance window {names}; operations "
                          f"start after {end}", until=until)
