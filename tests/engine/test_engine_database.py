"""An embedded engine pointed at a real Vitrage database refuses to start
instead of dropping that database's tables."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.engine
pytest.importorskip("vitrage")


class _NoSink:
    def submit(self, request):
        raise AssertionError("nothing may reach the sink")

    def reject(self, reason, detail, source, delivery=None):
        raise AssertionError("nothing may reach the sink")


def test_a_file_database_is_refused_and_kept(tmp_path):
    from vitrage_selfheal.engine.config import EngineSettings
    from vitrage_selfheal.engine.embedded import (
        DatabaseNotOwned,
        EmbeddedEngine,
    )

    url = f"sqlite:///{tmp_path}/vitrage.db"
    keep = sa.create_engine(url)
    with keep.begin() as conn:
        conn.execute(sa.text("CREATE TABLE templates (id INTEGER)"))
    engine = EmbeddedEngine(
        EngineSettings(workdir=tmp_path / "engine", database_url=url),
        sink=_NoSink())
    try:
        with pytest.raises(DatabaseNotOwned, match="vitrage.db"):
            engine.start()
    finally:
        engine.stop()
    assert "templates" in sa.inspect(keep).get_table_names()
    keep.dispose()
