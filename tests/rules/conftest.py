"""A real store in a temp folder for the rules' tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workflowd.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data" / "workflowd.db")
    yield s
    s.close()
