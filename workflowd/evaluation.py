"""``workflowd eval``: a task's model in use, measured on a labelled file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .config import Settings
from .errors import ModelError
from .models.provider import ModelProvider
from .training.data import load_labelled_jsonl
from .training.metrics import classification_metrics

TASKS = ("classify", "entities", "summarize", "sentiment")


def evaluate(
    settings: Settings,
    task: str,
    data_path: Path,
    *,
    version: str | None = None,
    sentences: int | None = None,
) -> dict[str, Any]:
    """Metrics of the promoted version (or ``version``, or the built-in model) on ``data_path``."""
    if task not in TASKS:
        raise ModelError(f"unknown task {task!r}; tasks that can be evaluated: {', '.join(TASKS)}")
    if task == "summarize":
        return evaluate_summarize(settings, data_path, version=version, sentences=sentences)
    if task == "entities":
        return evaluate_entities(settings, data_path, version=version)
    if task == "sentiment":
        return evaluate_sentiment(settings, data_path, version=version)
    return evaluate_classify(settings, data_path, version=version)


def evaluate_summarize(
    settings: Settings, data_path: Path, *, version: str | None = None, sentences: int | None = None
) -> dict[str, Any]:
    """ROUGE-1/2/L F1 of the summaries the step would write, with as many sentences as each
    reference has (or ``sentences``)."""
    from .steps.summarize import head_in_use
    from .training.summarize import load_summaries_jsonl, pick, prepare, rouge

    data = load_summaries_jsonl(data_path)
    provider = ModelProvider(settings)
    head = head_in_use(provider, version)
    docs = prepare(provider.encoder, data)
    picked = [" ".join(d.sentences[j].text for j in pick(d, head, sentences)) for d in docs]
    return {
        "task": "summarize",
        "n": len(data),
        "model_version": head.version,
        "metrics": rouge(picked, data.summaries),
    }


def evaluate_entities(settings: Settings, data_path: Path, *, version: str | None = None) -> dict[str, Any]:
    """Entity-level precision, recall and F1 (seqeval, exact spans) of the learned types, overall
    and per type, on a CoNLL file read document by document as the step reads a document."""
    from .ner.conll import read_conll
    from .steps.entities import tagger_in_use
    from .training.entities import evaluate_docs, prepare

    docs = read_conll(data_path)
    provider = ModelProvider(settings)
    tagger = tagger_in_use(provider, version)
    prepared = prepare(provider.encoder, docs, tagger.tags)
    metrics = evaluate_docs(tagger, prepared)
    return {
        "task": "entities",
        "n": sum(len(d.sentences) for d in docs),
        "documents": len(docs),
        "model_version": tagger.version,
        "metrics": metrics,
    }


def evaluate_sentiment(settings: Settings, data_path: Path, *, version: str | None = None) -> dict[str, Any]:
    """Accuracy and macro-F1 of the document labels the step gives; on a file with no neutral
    example (SST-2), only negative against positive is compared."""
    from .sentiment import load_sentiment_file
    from .steps.sentiment import sentiment_in_use
    from .training.sentiment import sentiment_metrics

    data = load_sentiment_file(data_path)
    provider = ModelProvider(settings)
    model = sentiment_in_use(provider, version)
    return {
        "task": "sentiment",
        "n": len(data),
        "model_version": model.version,
        "metrics": sentiment_metrics(model, data),
    }


def classifier_in_use(settings: Settings, provider: ModelProvider, version: str | None = None):  # noqa: ANN201
    """The classifier ``classify`` would use: a given version, the promoted one, or zero-shot."""
    from .steps.classify import TASK, ClassifySettings, classifier_model

    step = ClassifySettings.model_validate(settings.steps.get(TASK, {}))
    return classifier_model(settings, step, provider).resolve(provider, version)


def evaluate_classify(settings: Settings, data_path: Path, *, version: str | None = None) -> dict[str, Any]:
    from .steps.classify import TASK, ClassifySettings

    data = load_labelled_jsonl(data_path)
    provider = ModelProvider(settings)
    clf = classifier_in_use(settings, provider, version)
    unknown = sorted(set(data.labels) - set(clf.labels))
    if unknown:
        where = f"{TASK} {clf.model_version}" if clf.version else "[steps.classify.labels] (zero-shot)"
        raise ModelError(
            f"labels in {data_path} that {where} does not know: {', '.join(unknown)}; "
            f"it knows: {', '.join(clf.labels)}"
        )
    encoder = clf.encoder or provider.encoder
    X = np.stack([e.embedding for e in encoder.encode_documents(data.texts)])
    probs = clf.proba(X)
    best = probs.argmax(1)
    predicted = [clf.labels[i] for i in best]
    metrics = classification_metrics(data.labels, predicted)
    threshold = ClassifySettings.model_validate(settings.steps.get(TASK, {})).threshold
    kept = probs.max(1) >= threshold
    truth = np.array(data.labels)
    metrics["abstention"] = {
        "threshold": threshold,
        "coverage": float(kept.mean()),
        "accuracy_labelled": float((np.array(predicted)[kept] == truth[kept]).mean()) if kept.any() else None,
    }
    return {"task": TASK, "n": len(data), "model_version": clf.model_version, "metrics": metrics}
