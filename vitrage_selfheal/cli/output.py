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
          out: TextIO = sys.stdout, max_width: int = 70) -> None:
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells])
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line.rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        text = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))
        print(text.rstrip(), file=out)


def _cell(value: Any, max_width: int) -> str:
    text = "-" if value is None or value == "" else str(value)
    return text if len(text) <= max_width else text[:max_width - 1] + "…"


def dump(document: Any, out: TextIO = sys.stdout) -> None:
    json.dump(document, out, indent=2, sort_keys=True, default=str)
    print(file=out)
