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
    assert "2 heal execution(s)" in text
    assert (tmp_path / "demo" / "ledger.db").exists()
