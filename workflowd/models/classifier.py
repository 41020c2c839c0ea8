"""Document classifiers: a linear head over document embeddings, with a temperature.

Zero-shot and trained classifiers are the same object. Zero-shot, each label's weight is the
embedding of a sentence made from its description ("This text is about <description>."), so
the score is the cosine between document and description (prompt learning without training).
A trained head starts from those weights and learns from examples; ``lora`` and ``full``
versions also carry their own fine-tuned encoder, which costs one more pass per document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ModelSettings
from ..errors import ModelError
from .encoder import Encoder, load_base, load_pretrained

ZERO_SHOT_TEMPLATE = "This text is about {description}."
# Cosines between documents and descriptions differ by a few hundredths; dividing by this
# turns them into probabilities. Fitted by temperature scaling on public data (see
# benchmarks/README.md); trained versions fit their own on their validation split.
ZERO_SHOT_TEMPERATURE = 0.03

HEAD_FILE = "head.npz"
META_FILE = "meta.json"


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class Classifier:
    labels: list[str]
    weight: np.ndarray  # (n_labels, dim)
    bias: np.ndarray  # (n_labels,)
    temperature: float = 1.0
    kind: str = "zero-shot"  # zero-shot | head | lora | full
    version: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    encoder: Encoder | None = None  # its own fine-tuned encoder (lora, full); else the shared one

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        return embeddings @ self.weight.T + self.bias

    def proba(self, embeddings: np.ndarray) -> np.ndarray:
        return softmax(self.logits(embeddings) / self.temperature)

    @property
    def model_version(self) -> str:
        return self.version or self.kind


def zero_shot(encoder: Encoder, descriptions: dict[str, str], template: str = ZERO_SHOT_TEMPLATE) -> Classifier:
    """A classifier from label descriptions alone."""
    if not descriptions:
        raise ModelError("zero-shot classification needs labels with descriptions ([steps.classify.labels])")
    labels = list(descriptions)
    prompts = [template.format(label=label, description=descriptions[label] or label) for label in labels]
    weight = encoder.encode_prompts(prompts)
    return Classifier(labels, weight, np.zeros(len(labels), dtype=np.float32), ZERO_SHOT_TEMPERATURE,
                      kind="zero-shot", meta={"template": template, "descriptions": descriptions})


def save(clf: Classifier, folder: Path, meta: dict[str, Any]) -> None:
    """Write the head and its metadata (the encoder of lora/full versions is saved by training)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / HEAD_FILE, weight=clf.weight.astype(np.float32), bias=clf.bias.astype(np.float32))
    data = {**meta, "labels": clf.labels, "temperature": clf.temperature, "kind": clf.kind}
    (folder / META_FILE).write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def load(folder: Path, settings: ModelSettings, version: str | None = None) -> Classifier:
    """A saved classifier; lora and full versions load their own encoder."""
    try:
        meta = json.loads((folder / META_FILE).read_text())
        with np.load(folder / HEAD_FILE) as head:
            weight, bias = head["weight"], head["bias"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot load the classifier in {folder}: {exc}") from None
    encoder = None
    if meta["kind"] == "lora":
        from peft import PeftModel

        base, tokenizer = load_base(meta.get("base_model", settings.base))
        model = PeftModel.from_pretrained(base, str(folder / "adapter")).merge_and_unload()
        encoder = Encoder(settings, model=model, tokenizer=tokenizer)
    elif meta["kind"] == "full":
        model, tokenizer = load_pretrained(str(folder / "encoder"))
        encoder = Encoder(settings, model=model, tokenizer=tokenizer)
    return Classifier(meta["labels"], weight, bias, float(meta["temperature"]), meta["kind"], version, meta, encoder)
