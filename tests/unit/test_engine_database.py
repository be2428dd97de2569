"""The embedded engine resets only its own in-memory Vitrage database."""

from __future__ import annotations

import pytest

from vitrage_selfheal.engine.embedded import DatabaseNotOwned, check_resettable


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_its_own_in_memory_database_may_be_reset(url):
    check_resettable(url)


@pytest.mark.parametrize("url, shown", [
    ("mysql+pymysql://vitrage:s3cret@db.example/vitrage",
     "mysql+pymysql://vitrage:***@db.example/vitrage"),
    ("postgresql://vitrage:s3cret@127.0.0.1:5432/vitrage",
     "postgresql://vitrage:***@127.0.0.1:5432/vitrage"),
    ("sqlite:////var/lib/vitrage/vitrage.db",
     "sqlite:////var/lib/vitrage/vitrage.db"),
])
def test_any_other_database_is_refused_with_its_url_masked(url, shown):
    with pytest.raises(DatabaseNotOwned) as caught:
        check_resettable(url)
    assert shown in str(caught.value)
    assert "s3cret" not in str(caught.value)
