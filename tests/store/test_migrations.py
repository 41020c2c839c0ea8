"""Opening an older database upgrades it; a newer one is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from workflowd.errors import SchemaTooNewError, StoreError
from workflowd.store import SCHEMA_VERSION, Store
from workflowd.store.migrations import MIGRATIONS


def _schema(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"))
    finally:
        conn.close()


def test_fresh_database_is_at_the_latest_version_in_wal_mode(tmp_path: Path) -> None:
    store = Store(tmp_path / "wf.db")
    assert store.schema_version() == SCHEMA_VERSION
    assert store.scalar("PRAGMA journal_mode") == "wal"
    tables = set(store.db.table_names())
    assert {"documents", "locations", "jobs", "step_results", "corrections", "alerts", "model_versions"} <= tables
    store.close()


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
def test_every_older_version_upgrades_to_the_same_schema(tmp_path: Path, start: int) -> None:
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    db = Database(conn)
    for version in range(start):
        MIGRATIONS[version](db)
        conn.execute(f"PRAGMA user_version = {version + 1}")
    conn.close()
    store = Store(old)
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    assert _schema(old) == _schema(fresh)


def test_data_survives_reopening(tmp_path: Path) -> None:
    from workflowd.store import FoundFile

    store = Store(tmp_path / "wf.db")
    store.documents.add(FoundFile("s", "/a", "a", "f" * 64, 1, 1), pipeline="default", max_attempts=3)
    store.close()
    store = Store(tmp_path / "wf.db")
    assert [d["path"] for d in store.documents.list()] == ["/a"]
    store.close()


def test_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "wf.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNewError, match=rf"schema version {SCHEMA_VERSION + 1}.*upgrade workflowd"):
        Store(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "wf.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        Store(path)
