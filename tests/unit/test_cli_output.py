"""The operator's tables: the last column (a reason, a detail) whole."""

from __future__ import annotations

import io

from vitrage_selfheal.cli.output import table


def test_last_column_is_never_cut_the_others_are() -> None:
    reason = ("breaker: failed 3 times, last: step=check_units: units "
              "missing from the group: member-7 " + "x" * 80)
    out = io.StringIO()
    table(("scope", "reason"), [("s" * 100, reason)], out=out)
    lines = out.getvalue().splitlines()
    assert lines[2].endswith(reason)
    assert ("s" * 69 + "…") in lines[2]
