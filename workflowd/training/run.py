"""``workflowd train``: train a task's model from a file, register it, promote it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import ModelError
from ..models import classifier as clf_mod
from ..models.provider import ModelProvider
from ..models.registry import ModelVersion
from .classify import ClassifyParams, TrainOutcome, train_classifier
from .common import Progress
from .data import load_labelled_jsonl

TASKS = ("classify", "summarize")
MAX_UNLABELED = 20_000  # the newest documents' embeddings used for self-training


def train_from_file(
    settings: Settings,
    task: str,
    data_path: Path,
    params: ClassifyParams,
    *,
    promote: bool = True,
    progress: Progress | None = None,
    use_store: bool = True,
) -> tuple[ModelVersion, TrainOutcome]:
    """Train on ``data_path``, save the artifact as a new version and (unless told not to) promote it.

    With ``use_store``, the embeddings of the documents in the store are the unlabelled data
    of self-training (method head).
    """
    if task not in TASKS:
        raise ModelError(f"unknown task {task!r}; tasks that can be trained: {', '.join(TASKS)}")
    if task == "summarize":
        return train_summarize_from_file(settings, data_path, promote=promote, seed=params.seed)
    from ..steps.classify import ClassifySettings

    data = load_labelled_jsonl(data_path)
    provider = ModelProvider(settings)
    descriptions = ClassifySettings.model_validate(settings.steps.get(task, {})).labels
    registry = provider.registry()
    unlabeled = None
    if use_store and params.method == "head":
        _ids, unlabeled = registry.store.embeddings.matrix(settings.model.base, limit=MAX_UNLABELED)
    outcome = train_classifier(provider.encoder, data, params, descriptions, progress, unlabeled)
    build = registry.staging_dir(task)
    try:
        save_outcome(outcome, build, provider.encoder)
        version = registry.add(
            task, build, base_model=provider.encoder.name, metrics=outcome.metrics,
            meta={**outcome.meta, "data_file": str(data_path)},
        )
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    if promote:
        version = registry.promote(task, version.version)
    return version, outcome


def train_summarize_from_file(
    settings: Settings, data_path: Path, *, promote: bool = True, seed: int = 0
) -> tuple[ModelVersion, Any]:
    """Train the summarize step's salience head on ``{"text", "summary"}`` JSONL and register it."""
    from .summarize import load_summaries_jsonl, train_summarizer

    data = load_summaries_jsonl(data_path)
    provider = ModelProvider(settings)
    outcome = train_summarizer(provider.encoder, data, seed=seed)
    registry = provider.registry()
    build = registry.staging_dir("summarize")
    try:
        outcome.head.save(build)
        version = registry.add("summarize", build, base_model=provider.encoder.name, metrics=outcome.metrics,
                               meta={**outcome.meta, "data_file": str(data_path)})
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    if promote:
        version = registry.promote("summarize", version.version)
    return version, outcome


def save_outcome(outcome: TrainOutcome, folder: Path, encoder) -> None:  # noqa: ANN001
    """The head, its metadata and, for lora/full, the fine-tuned encoder weights (safetensors)."""
    clf_mod.save(outcome.classifier, folder, outcome.meta)
    if outcome.tuned_model is None:
        return
    if outcome.classifier.kind == "lora":
        outcome.tuned_model.save_pretrained(str(folder / "adapter"))
    else:
        outcome.tuned_model.save_pretrained(str(folder / "encoder"), safe_serialization=True)
        encoder.tokenizer.save_pretrained(str(folder / "encoder"))
