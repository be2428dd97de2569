"""Tables and JSON for the operator's terminal."""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Sequence
from typing import Any, Optional, TextIO


def when(epoch: Optional[float]) -> str:
    if epoch is None:
        return "-"
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          out: Optional[TextIO] = None, max_width: int = 70) -> None:
    # sys.stdout as it is now, not as it was at import (a redirect).
    out = out or sys.stdout
    # The last column (a reason, a detail) is never cut: it is what the
    # operator came for, and nothing to its right needs aligning.
    last = len(headers) - 1
    cells = [[_cell(v, max_width if i < last else None)
              for i, v in enumerate(row)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells])
              for i, h in enumerate(headers)]
    widths[last] = len(headers[last])
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line.rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        text = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))
        print(text.rstrip(), file=out)


def _cell(value: Any, max_width: Optional[int]) -> str:
    text = "-" if value is None or value == "" else str(value)
    if max_width is None or len(text) <= max_width:
        return text
    return text[:max_width - 1] + "…"


def dump(document: Any, out: Optional[TextIO] = None) -> None:
    out = out or sys.stdout
    json.dump(document, out, indent=2, sort_keys=True, default=str)
    print(file=out)
