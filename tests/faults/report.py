"""The reliability table: one row per fault, filled in by the tests and
printed at the end of the run (tests/faults/conftest.py) as the README's
reStructuredText table; also written to var/faults/reliability.json."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import textwrap
import threading
from collections.abc import Sequence
from typing import Optional, TextIO

from vitrage_selfheal import paths

REPORT = paths.CHECKOUT / "var" / "faults" / "reliability.json"
HEADERS = ("fault", "executions per batch", "time", "what happened")
# The last column is wrapped to this width (continuation lines).
WRAP = 64


@dataclasses.dataclass
class Row:
    fault: str
    happened: str = ""
    executions: str = ""
    seconds: Optional[float] = None
    outcome: str = "not run"

    def cells(self) -> tuple[str, str, str, str]:
        return (self.fault, self.executions or "-",
                "-" if self.seconds is None else f"{self.seconds:.0f}s",
                self.happened or self.outcome)


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self._lock = threading.Lock()

    def row(self, fault: str) -> Row:
        with self._lock:
            row = Row(fault)
            self.rows.append(row)
            return row

    def print(self, out: TextIO) -> None:
        rst_table(HEADERS, [r.cells() for r in self.rows], out)

    def write(self, path: pathlib.Path = REPORT) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([dataclasses.asdict(r) for r in self.rows],
                                   indent=2) + "\n")


def rst_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
              out: TextIO, wrap: int = WRAP) -> None:
    """A reStructuredText simple table (README.rst takes it as printed);
    the last column's text goes on continuation lines, whose first column
    is blank, as the format wants."""
    lines: list[list[str]] = []
    for row in rows:
        *first, last = row
        parts = textwrap.wrap(last, wrap) or [""]
        lines.append([*first, parts[0]])
        lines += [[""] * len(first) + [part] for part in parts[1:]]
    widths = [max([len(h)] + [len(r[i]) for r in lines])
              for i, h in enumerate(headers)]
    rule = " ".join("=" * w for w in widths)

    def line(cells: Sequence[str]) -> str:
        return " ".join(c.ljust(w) for c, w in
                        zip(cells, widths, strict=True)).rstrip()
    for text in (rule, line(headers), rule, *map(line, lines), rule):
        print(text, file=out)


REPORT_ROWS = Report()
