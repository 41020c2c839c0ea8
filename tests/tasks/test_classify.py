"""The classify step: zero-shot from descriptions, abstention, a promoted model without restart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workflowd.errors import ConfigError
from workflowd.pipeline import Document, StepContext
from workflowd.corrections import correct
from workflowd.tasks import CorrectionInput
from workflowd.tasks.classify import Classify, ClassifySettings, ClassifyTask
from workflowd.training.retrain import corrections_examples


def _docs(context: StepContext, *texts: str) -> list[Document]:
    docs = [Document(id=i, text=t) for i, t in enumerate(texts)]
    for d, e in zip(docs, context.models.encoder.encode_documents(texts), strict=True):
        d.encoded = e
    return docs


def test_zero_shot_with_the_default_labels(context: StepContext) -> None:
    step = Classify(ClassifySettings(), context)
    docs = _docs(
        context,
        "INVOICE No. 2024-118. Amount due: 249.00 EUR. Please pay by bank transfer within 14 days.",
        "Your flight LH 1234 from Munich to Lisbon departs at 07:35. Boarding pass attached. Seat 14C.",
        "Dear patient, your blood test results are normal. Dr. Weber, General Practice.",
    )
    labels = [r.data["best_guess"] for r in step.run_batch(docs)]
    assert labels == ["invoice", "travel", "medical"]
    result = step.run(docs[0])
    assert result.model_version == "zero-shot"
    assert 0 < result.confidence <= 1 and abs(sum(result.data["scores"].values()) - 1) < 1e-3


def test_abstains_below_the_threshold(context: StepContext) -> None:
    step = Classify(ClassifySettings(threshold=0.999), context)
    [result] = step.run_batch(_docs(context, "Some words that are not about anything in particular."))
    assert result.data["label"] is None and result.data["abstained"] and result.needs_review
    assert result.data["best_guess"] in ClassifySettings().labels


def test_multi_label_tags(context: StepContext) -> None:
    settings = ClassifySettings(labels={"sport": "sport and games", "money": "money and finance", "food": "cooking"},
                                multi_label=True, tag_threshold=0.2, tag_thresholds={"food": 0.99})
    [result] = Classify(settings, context).run_batch(_docs(context, "The football club's finances are in ruins."))
    assert "food" not in result.data["tags"]
    assert set(result.data["tags"]) <= {"sport", "money"} and result.data["tags"]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="at least two labels"):
        ClassifySettings(labels={"only": "one"})
    with pytest.raises(ValueError, match="must contain"):
        ClassifySettings(template="no placeholder")


def test_promoted_version_is_used_without_restart_and_rollback_restores(context: StepContext) -> None:
    from workflowd.models import classifier as clf_mod

    step = Classify(ClassifySettings(labels={"a": "apples", "b": "bananas"}), context)
    docs = _docs(context, "apples and pears")
    assert step.run_batch(docs)[0].model_version == "zero-shot"

    registry = context.models.registry()
    build = registry.staging_dir("classify")
    dim = context.models.encoder.dim
    w = np.zeros((2, dim), dtype=np.float32)
    clf_mod.save(clf_mod.Classifier(["x", "y"], w, np.array([5.0, 0.0], dtype=np.float32), 1.0, "head"),
                 build, {"base_model": "bundled"})
    registry.add("classify", build, base_model="bundled", metrics={}, meta={})
    registry.promote("classify", "v1")
    result = step.run_batch(docs)[0]
    assert result.model_version == "v1" and result.data["label"] == "x"

    registry.rollback("classify")
    assert step.run_batch(docs)[0].model_version == "zero-shot"


def test_unknown_step_setting_is_a_config_error(tmp_path: Path) -> None:
    from workflowd.config import load_config
    from workflowd.runtime import build_pipelines

    path = tmp_path / "c.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n[steps.classify]\nthreshhold = 0.5\n')
    with pytest.raises(ConfigError, match="steps.classify.threshhold: unknown key 'threshhold' "
                                          r"\(did you mean 'threshold'\?\)"):
        build_pipelines(load_config(path))


def _corrected(context: StepContext, labels: dict[str, str]) -> None:
    """Documents of the given texts in the store, each corrected with its label."""
    from workflowd.store import FoundFile

    store = context.models.registry().store
    task = ClassifyTask(context.settings, context.models)
    for i, (text, label) in enumerate(labels.items()):
        doc_id, _ = store.documents.add(
            FoundFile(source="t", path=f"/t/{i}", name=f"{i}.txt", sha256=f"sha{i}", size=1), pipeline="default",
            max_attempts=1,
        )
        store.documents.set_extracted(doc_id, media_type="text/plain", title=None, text=text, meta={})
        correct(store, doc_id, task, CorrectionInput(label=label))


def test_labels_are_matched_without_regard_to_case(context: StepContext) -> None:
    _corrected(context, {"A film review.": "entertainment", "A concert.": "  ENTERTAINMENT ", "A bill.": "Invoice"})
    store = context.models.registry().store
    assert [c["value"]["label"] for c in store.corrections.list()] == ["entertainment", "entertainment", "invoice"]


def test_a_retrained_classifier_knows_every_label_and_keeps_the_untaught_ones(context: StepContext) -> None:
    from workflowd.models.classifier import Classifier

    texts = {
        "The new Marvel film opens this weekend in cinemas.": "entertainment",
        "Tickets for the concert at Wembley go on sale Friday.": "entertainment",
        "The Netflix series returns for a third season.": "entertainment",
        "Our monthly newsletter: new products and a discount code.": "newsletter",
    }
    _corrected(context, texts)
    task = ClassifyTask(context.settings, context.models)
    r = task.make_retrainer()
    current, _ = r.current()
    examples = r.prepare(corrections_examples(context.models.registry().store, "classify"))
    candidate = r.train(examples, current).model
    assert candidate.labels[: len(current.labels)] == current.labels and candidate.labels[-1] == "entertainment"
    untaught = [i for i, label in enumerate(current.labels) if label not in ("newsletter",)]
    # the labels without corrections keep the weights of the model in use (at its temperature)
    assert np.allclose(candidate.weight[untaught], current.weight[untaught] / current.temperature, atol=1e-5)
    assert r.refuse(candidate, current) is None
    dropped = Classifier(candidate.labels[1:], candidate.weight[1:], candidate.bias[1:], 1.0, "head")
    assert r.refuse(dropped, current).startswith("it drops label(s) invoice")
