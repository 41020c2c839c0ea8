"""Trained model versions: artifacts on disk, their record and status in the store.

Each version lives in ``<data_dir>/models/<task>/<version>/`` and never changes once
registered. Which version a task uses is a row status in SQLite (``promoted``), so promotion
and rollback are one transaction, and a running daemon sees them at its next batch.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..store import Store

STATUSES = ("candidate", "promoted", "retired", "rejected", "rolled-back")


@dataclass(frozen=True)
class ModelVersion:
    task: str
    version: str
    path: Path
    status: str
    base_model: str | None
    metrics: dict[str, Any]
    meta: dict[str, Any]
    created_at: str
    promoted_at: str | None
    requeued: int = 0  # set by promote/rollback: documents queued to re-run the step with it

    def public(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "version": self.version,
            "status": self.status,
            "path": str(self.path),
            "base_model": self.base_model,
            "metrics": self.metrics,
            "meta": self.meta,
            "created_at": self.created_at,
            "promoted_at": self.promoted_at,
            "requeued": self.requeued,
        }


def _row(row: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        task=row["task"],
        version=row["version"],
        path=Path(row["path"]),
        status=row["status"],
        base_model=row["base_model"],
        metrics=row["metrics"],
        meta=row["meta"],
        created_at=row["created_at"],
        promoted_at=row["promoted_at"],
    )


class ModelRegistry:
    def __init__(self, store: Store, models_dir: Path, *, repredict: int = 0):
        """``repredict``: on each change of the model in use, queue its step to be re-run on up to
        this many of the newest documents not yet reviewed for it (0: none)."""
        self.store = store
        self.models_dir = Path(models_dir)
        self.repredict = repredict
        self.requeued = 0  # documents queued to re-run a step by the last change of the model in use

    def staging_dir(self, task: str) -> Path:
        """An empty folder to build a new version in (on the same file system, for an atomic move)."""
        path = self.models_dir / task / f".build-{secrets.token_hex(6)}"
        path.mkdir(parents=True)
        return path

    def add(
        self,
        task: str,
        build_dir: Path,
        *,
        base_model: str | None,
        metrics: dict[str, Any],
        meta: dict[str, Any],
    ) -> ModelVersion:
        """Move a built artifact into place and record it as a candidate."""
        with self.store.transaction():
            version = self.store.model_versions.next_version(task)
            dest = self.models_dir / task / version
            if dest.exists():  # left by a crash between the move and the commit
                shutil.rmtree(dest)
            Path(build_dir).rename(dest)
            self.store.model_versions.add(
                task, version, str(dest), base_model=base_model, metrics=metrics, meta=meta
            )
        return self.get(task, version)

    def register(
        self,
        task: str,
        save: Callable[[Path], None],
        *,
        base_model: str | None,
        metrics: dict[str, Any],
        meta: dict[str, Any],
        promote: bool = False,
    ) -> ModelVersion:
        """Build a new version with ``save(folder)``, record it, and promote it if asked; a
        failure on the way leaves nothing behind."""
        build = self.staging_dir(task)
        try:
            save(build)
            version = self.add(task, build, base_model=base_model, metrics=metrics, meta=meta)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        return self.promote(task, version.version) if promote else version

    def get(self, task: str, version: str) -> ModelVersion:
        row = self.store.model_versions.get(task, version)
        if row is None:
            known = ", ".join(v.version for v in self.list(task)) or "none"
            raise ModelError(f"no version {version!r} of the {task} model; versions: {known}")
        return _row(row)

    def current(self, task: str) -> ModelVersion | None:
        row = self.store.model_versions.promoted(task)
        return _row(row) if row else None

    def list(self, task: str | None = None) -> list[ModelVersion]:
        return [_row(r) for r in self.store.model_versions.list(task)]

    def promote(self, task: str, version: str, *, leaving: str = "retired") -> ModelVersion:
        """Make ``version`` the one in use, in one transaction; the previous one gets ``leaving``."""
        with self.store.transaction():
            target = self.get(task, version)
            if not target.path.is_dir():
                raise ModelError(f"the files of {task} {version} are missing ({target.path})")
            self.store.model_versions.promote(task, version, leaving=leaving)
            requeued = self._queue_repredict(task)
        return dataclasses.replace(self.get(task, version), requeued=requeued)

    def _queue_repredict(self, task: str) -> int:
        self.requeued = self.store.jobs.queue_repredict(task, limit=self.repredict) if self.repredict else 0
        return self.requeued

    def reject(self, task: str, version: str, reason: str) -> None:
        with self.store.transaction():
            version_ = self.get(task, version)
            self.store.model_versions.reject(task, version, {**version_.meta, "rejected_because": reason})

    def rollback(self, task: str, version: str | None = None) -> ModelVersion | None:
        """Go back to ``version``, or to the version promoted before the current one.

        With no earlier version, the task goes back to its built-in model (returns None).
        """
        current = self.current(task)
        if version is None:
            earlier = [v for v in self.list(task) if v.status == "retired" and v.promoted_at]
            if not earlier:
                if current is None:
                    raise ModelError(f"no trained {task} model is in use; nothing to roll back")
                self.unpromote(task)
                return None
            version = max(earlier, key=lambda v: v.promoted_at or "").version
        return self.promote(task, version, leaving="rolled-back")

    def unpromote(self, task: str) -> int:
        """Use no trained version (back to the built-in behaviour, e.g. zero-shot); returns how
        many documents were queued to re-run the step."""
        with self.store.transaction():
            self.store.model_versions.unpromote(task)
            return self._queue_repredict(task)


HEADLINES = (("macro_f1", "val macro-F1"), ("f1", "val F1"), ("mean_accuracy", "val accuracy"),
             ("rouge2", "val ROUGE-2"))


def measured(metrics: dict[str, Any]) -> str:
    """A version's main figures: against the model it replaced on held-out corrections (a
    retrained one), and its validation metric."""
    parts = []
    held = metrics.get("held_out_corrections")
    if held and held.get("n"):
        parts.append(f"held-out {held['candidate']:.3f} (was {held['current']:.3f}, n={held['n']})")
    for key, name in HEADLINES:
        if isinstance(metrics.get(key), int | float):
            parts.append(f"{name} {metrics[key]:.3f}")
            break
    return ", ".join(parts)
