"""The README's scenario example is scenarios/format_tour.yaml, word for
word, and that file loads (the engine suite runs it with its expect:)."""

from __future__ import annotations

from vitrage_selfheal import paths
from vitrage_selfheal.simulate import scenario

TOUR = paths.CHECKOUT / "scenarios" / "format_tour.yaml"


def readme_block(start: str) -> str:
    """The literal block of README.rst that begins with `start`."""
    lines = (paths.CHECKOUT / "README.rst").read_text().splitlines()
    first = lines.index(f"    {start}")
    block = []
    for line in lines[first:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip() + "\n"


def test_the_readme_example_is_the_shipped_file():
    text = TOUR.read_text()
    body = "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("#"))
    assert readme_block(body.splitlines()[0]) == body
    spec = scenario.load(TOUR)
    kinds = {event.kind for event in spec.timeline}
    assert len(kinds) >= 12 and spec.expect is not None
