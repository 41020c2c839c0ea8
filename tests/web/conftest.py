"""A web server on a free port over a store with one document, for the guard and page tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from workflowd.config import Settings
from workflowd.store import FoundFile, Store
from workflowd.web.server import WebServer


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[WebServer, str]]:
    settings = Settings(data_dir=tmp_path / "data", sources=[], web={"port": 0})
    settings.data_dir.mkdir()
    original = tmp_path / "letter.txt"
    original.write_text("Dear Anna, the invoice is attached.", encoding="utf-8")
    store = Store(settings.db_path)
    doc_id, _ = store.documents.add(
        FoundFile(source="inbox", path=str(original), name="letter.txt", sha256="s1", size=35, mtime_ns=1),
        pipeline="default", max_attempts=3,
    )
    store.documents.set_extracted(doc_id, media_type="text/plain", title=None,
                                  text="Dear Anna, the invoice is attached.", meta={})
    store.close()
    server = WebServer(settings)
    server.bind()
    server.start()
    base = f"http://127.0.0.1:{server.context.port}"
    for _ in range(100):  # until uvicorn answers
        try:
            httpx.get(base + "/api/documents", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield server, base
    server.stop()


