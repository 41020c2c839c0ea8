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

TASKS = ("classify", "entities", "summarize", "sentiment")
MAX_UNLABELED = 20_000  # the newest documents' embeddings used for self-training


def train_from_file(
    settings: Settings,
    task: str,
    data_path: Path | list[Path],
    params: ClassifyParams,
    *,
    promote: bool = True,
    progress: Progress | None = None,
    use_store: bool = True,
    valid_path: Path | None = None,
    val_share: float | None = None,
) -> tuple[ModelVersion, Any]:
    """Train on ``data_path``, save the artifact as a new version and (unless told not to) promote it.

    With ``use_store``, the embeddings of the documents in the store are the unlabelled data
    of self-training (method head).
    """
    if task not in TASKS:
        raise ModelError(f"unknown task {task!r}; tasks that can be trained: {', '.join(TASKS)}")
    paths = list(data_path) if isinstance(data_path, list | tuple) else [data_path]
    if len(paths) != 1 and task != "sentiment":
        raise ModelError(f"{task} trains on one data file; only sentiment takes several")
    data_path = paths[0]
    if task == "summarize":
        return train_summarize_from_file(settings, data_path, promote=promote, seed=params.seed)
    if task == "entities":
        return train_entities_from_file(
            settings, data_path, valid_path, params, promote=promote, progress=progress
        )
    if task == "sentiment":
        return train_sentiment_from_files(settings, paths, params, promote=promote, progress=progress,
                                          val_share=val_share)
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
            task,
            build,
            base_model=provider.encoder.name,
            metrics=outcome.metrics,
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
        version = registry.add(
            "summarize",
            build,
            base_model=provider.encoder.name,
            metrics=outcome.metrics,
            meta={**outcome.meta, "data_file": str(data_path)},
        )
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    if promote:
        version = registry.promote("summarize", version.version)
    return version, outcome


def _register(
    settings: Settings,
    provider: ModelProvider,
    task: str,
    save,
    metrics: dict,
    meta: dict,  # noqa: ANN001
    promote: bool,
) -> ModelVersion:
    registry = provider.registry()
    build = registry.staging_dir(task)
    try:
        save(build)
        version = registry.add(task, build, base_model=provider.encoder.name, metrics=metrics, meta=meta)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return registry.promote(task, version.version) if promote else version


def train_entities_from_file(
    settings: Settings,
    data_path: Path,
    valid_path: Path | None,
    params: ClassifyParams,
    *,
    promote: bool = True,
    progress: Progress | None = None,
) -> tuple[ModelVersion, Any]:
    """The entity tagger from a CoNLL file; ``valid_path`` (else every 10th document) chooses the epoch."""
    from ..ner.conll import read_conll
    from .entities import EntityParams, train_tagger

    docs = read_conll(data_path)
    if valid_path is not None:
        train, valid = docs, read_conll(valid_path)
    else:
        train = [d for i, d in enumerate(docs) if i % 10 != 9] or docs
        valid = [d for i, d in enumerate(docs) if i % 10 == 9]
    ep = override(EntityParams(seed=params.seed), params)
    provider = ModelProvider(settings)
    outcome = train_tagger(provider.encoder, train, valid, ep, progress)
    meta = {
        **outcome.meta,
        "data_file": str(data_path),
        "valid_file": str(valid_path) if valid_path else None,
        "history": outcome.history,
    }
    version = _register(
        settings,
        provider,
        "entities",
        lambda build: outcome.tagger.save(build, outcome.adapter_model, {**meta, "metrics": outcome.metrics}),
        outcome.metrics,
        meta,
        promote,
    )
    return version, outcome


def train_sentiment_from_files(
    settings: Settings,
    paths: list[Path],
    params: ClassifyParams,
    *,
    promote: bool = True,
    progress: Progress | None = None,
    val_share: float | None = None,
) -> tuple[ModelVersion, Any]:
    """The sentiment model from one or more labelled files (JSONL or TSV), trained together."""
    from ..sentiment import load_sentiment_file
    from .sentiment import SentimentParams, train_sentiment

    sources = [load_sentiment_file(p) for p in paths]
    sp = override(SentimentParams(seed=params.seed), params)
    if val_share is not None:
        sp.val_share = val_share
    provider = ModelProvider(settings)
    outcome = train_sentiment(provider.encoder, sources, sp, progress)
    meta = {**outcome.meta, "data_files": [str(p) for p in paths], "history": outcome.history}
    version = _register(
        settings,
        provider,
        "sentiment",
        lambda build: outcome.model.save(build, outcome.adapter_model, {**meta, "metrics": outcome.metrics}),
        outcome.metrics,
        meta,
        promote,
    )
    return version, outcome


def override(params: Any, given: Any) -> Any:
    """``params`` with the epochs, learning rate and batch size given on the command line."""
    for name in ("epochs", "lr", "batch_size"):
        value = getattr(given, name, None)
        if value:
            setattr(params, name, value)
    return params


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
