"""The README's main job, in its embedded form, runs to a green table."""

from __future__ import annotations

import io

import pytest

from vitrage_selfheal import demo

pytestmark = pytest.mark.engine
pytest.importorskip("vitrage")


def test_demo_heals_each_fault_once_and_passes_its_checks(tmp_path):
    out = io.StringIO()
    assert demo.run(tmp_path / "demo", out) == 0, out.getvalue()
    text = out.getvalue()
    assert "All checks held" in text
    # Acts 1, 2 and 4's heal, and act 4's scale (no units).
    assert "4 heal execution(s)" in text
    assert "STACK_BUSY=1" in text and "SCALE_SUCCEEDED=1" in text
    assert "scale-out, a unit dies during it" in text
    assert (tmp_path / "demo" / "ledger.db").exists()
