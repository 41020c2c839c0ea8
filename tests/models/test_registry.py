"""Versions on disk, promotion in one transaction, rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflowd.errors import ModelError
from workflowd.models.registry import ModelRegistry
from workflowd.store import Store


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(Store(tmp_path / "wf.db"), tmp_path / "models")


def _add(registry: ModelRegistry, marker: str):  # noqa: ANN202
    build = registry.staging_dir("classify")
    (build / "weights").write_text(marker)
    return registry.add("classify", build, base_model="bundled", metrics={"macro_f1": 0.9}, meta={"m": marker})


def test_versions_are_numbered_and_moved_into_place(registry: ModelRegistry) -> None:
    v1, v2 = _add(registry, "one"), _add(registry, "two")
    assert (v1.version, v2.version) == ("v1", "v2")
    assert (v2.path / "weights").read_text() == "two"
    assert v1.status == "candidate" and registry.current("classify") is None
    assert not list(registry.models_dir.joinpath("classify").glob(".build-*"))


def test_promote_and_rollback(registry: ModelRegistry) -> None:
    _add(registry, "one"), _add(registry, "two")
    registry.promote("classify", "v1")
    registry.promote("classify", "v2")
    assert registry.current("classify").version == "v2"
    assert {v.version: v.status for v in registry.list()} == {"v1": "retired", "v2": "promoted"}
    assert registry.rollback("classify").version == "v1"
    assert {v.version: v.status for v in registry.list()} == {"v1": "promoted", "v2": "rolled-back"}
    assert registry.rollback("classify") is None  # nothing earlier: back to the built-in model
    assert registry.current("classify") is None
    assert registry.rollback("classify", "v2").version == "v2"  # any version by name


def test_unknown_version_lists_the_known_ones(registry: ModelRegistry) -> None:
    _add(registry, "one")
    with pytest.raises(ModelError, match="no version 'v9' of the classify model; versions: v1"):
        registry.promote("classify", "v9")
    with pytest.raises(ModelError, match="nothing to roll back"):
        registry.rollback("classify")


def test_reject_keeps_metrics_and_reason(registry: ModelRegistry) -> None:
    _add(registry, "one")
    registry.reject("classify", "v1", "worse on held-out corrections")
    v = registry.get("classify", "v1")
    assert v.status == "rejected" and v.meta["rejected_because"] == "worse on held-out corrections"
    assert v.metrics == {"macro_f1": 0.9}
