"""Training classifiers on small real data: head, LoRA and full fine-tuning; calibration; errors."""

from __future__ import annotations

import numpy as np
import pytest

from workflowd.errors import ModelError
from workflowd.training.classify import ClassifyParams, train_classifier
from workflowd.training.data import DataError, LabelledTexts, load_labelled_jsonl, stratified_split

TOPICS = {
    "sport": ["The striker scored twice in the final minutes of the match.",
              "The tennis champion won the open in straight sets.",
              "The team lost the derby after a late penalty.",
              "Athletes gathered for the marathon on Sunday morning.",
              "The coach praised his players after the cup victory.",
              "A record crowd watched the rugby international."],
    "money": ["The bank raised interest rates by a quarter point.",
              "Shares fell sharply as investors feared a recession.",
              "The company reported record quarterly profits.",
              "Inflation rose to four percent last month.",
              "The central bank warned about rising household debt.",
              "The firm's revenue grew despite higher costs."],
    "food": ["Simmer the tomatoes with garlic and olive oil for twenty minutes.",
             "This bakery makes the best sourdough bread in town.",
             "Add the flour slowly and whisk until smooth.",
             "The restaurant serves fresh fish and local vegetables.",
             "Roast the chicken with lemon and thyme.",
             "A bowl of noodle soup with ginger and spring onions."],
}

# A config for TOPICS: the default pipeline classifies with one-line descriptions of them.
TOPIC_LABELS = """
[pipelines.default]
steps = ["classify"]
[steps.classify.labels]
sport = "sport, games and athletes"
money = "money, banks and markets"
food = "food, cooking and restaurants"
"""


def _data(per_label: int = 6) -> LabelledTexts:
    texts, labels = [], []
    for label, examples in TOPICS.items():
        for t in examples[:per_label]:
            texts.append(t)
            labels.append(label)
    return LabelledTexts(texts, labels, "test")


def test_head_training_learns_and_calibrates(encoder) -> None:  # noqa: ANN001
    data = LabelledTexts(_data().texts * 5, _data().labels * 5, "test")  # 30 per label: 6 held out
    reports = []
    out = train_classifier(encoder, data, ClassifyParams(method="head", epochs=30), progress=reports.append)
    assert out.metrics["validation"] == "held out"
    assert out.metrics["accuracy"] == 1.0 and out.metrics["n"] == 18
    assert out.classifier.labels == ["food", "money", "sport"]
    assert 0.01 < out.metrics["temperature"] < 100
    assert reports and reports[0].val_loss is not None
    X = encoder.encode_texts(["The goalkeeper saved a penalty.", "Bake the cake for forty minutes."])
    assert [out.classifier.labels[i] for i in out.classifier.proba(X).argmax(1)] == ["sport", "food"]
    assert out.meta["data"]["per_label"] == {"food": 30, "money": 30, "sport": 30}


def test_tiny_data_calibrates_out_of_fold(encoder) -> None:  # noqa: ANN001
    out = train_classifier(encoder, _data(3), ClassifyParams(method="head", epochs=20))
    assert out.metrics["validation"] == "out-of-fold"
    assert out.meta["data"]["n_val"] == 0


def test_descriptions_give_a_zero_shot_start(encoder) -> None:  # noqa: ANN001
    """With descriptions and no training steps the head is the zero-shot classifier."""
    descriptions = {"sport": "sport, games and athletes", "money": "money, banks and markets", "food": "food and cooking"}
    out = train_classifier(encoder, _data(2), ClassifyParams(method="head", epochs=1, lr=1e-9), descriptions)
    X = encoder.encode_texts(["The central bank cut rates.", "Whisk the eggs with sugar."])
    assert [out.classifier.labels[i] for i in out.classifier.logits(X).argmax(1)] == ["money", "food"]


@pytest.mark.parametrize("method", ["lora", "full"])
def test_finetuning_methods_run_and_keep_the_shared_encoder_untouched(encoder, method: str) -> None:  # noqa: ANN001
    before = encoder.encode_texts(["unchanged"])
    data = LabelledTexts(_data().texts * 4, _data().labels * 4, "test")
    out = train_classifier(encoder, data, ClassifyParams(method=method, epochs=2, batch_size=12, val_share=0.25))
    assert out.tuned_model is not None and len(out.history) >= 1
    assert out.metrics["n"] == 18
    assert np.allclose(encoder.encode_texts(["unchanged"]), before)
    if method == "lora":
        trainable = sum(p.numel() for p in out.tuned_model.parameters() if p.requires_grad)
        assert trainable < 2_000_000


def test_errors() -> None:
    with pytest.raises(ModelError, match="unknown training method 'magic'"):
        ClassifyParams(method="magic").resolved()


def test_one_label_is_not_enough(encoder) -> None:  # noqa: ANN001
    with pytest.raises(ModelError, match="at least two labels"):
        train_classifier(encoder, LabelledTexts(["a", "b"], ["x", "x"], "t"), ClassifyParams())


def test_load_jsonl(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "body", "title": "Head", "category": "news"}\n\n{"text": "t", "label": "x"}\n')
    data = load_labelled_jsonl(path)
    assert data.texts == ["Head\n\nbody", "t"] and data.labels == ["news", "x"] and len(data.sha256) == 64
    path.write_text('{"text": "no label"}\n')
    with pytest.raises(DataError, match=r"line 1: expected a non-empty \"label\""):
        load_labelled_jsonl(path)
    path.write_text("not json\n")
    with pytest.raises(DataError, match="line 1: not JSON"):
        load_labelled_jsonl(path)


def test_stratified_split_is_fixed_and_skips_tiny_data() -> None:
    labels = ["a"] * 30 + ["b"] * 25
    assert stratified_split(labels, 0.2, 1) == stratified_split(labels, 0.2, 1)
    train, val = stratified_split(labels, 0.2, 1)
    assert len(val) == 11 and not set(train) & set(val) and len(train) + len(val) == 55
    assert stratified_split(["a"] * 8 + ["b"] * 8, 0.2, 1) == (list(range(16)), [])
