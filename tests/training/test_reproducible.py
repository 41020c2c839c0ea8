"""Training reproduces itself bit for bit: the shipped artifacts' cards promise that
``workflowd train`` gives the same numbers again, so a change to the training loops must not
move one. Each trainer (classify with LoRA, entities, sentiment, the last two also going on
from a saved model with the L2-SP anchor) runs on a tiny slice of the public data with fixed
seeds and one thread; the sha256 of its trainable weights, head and reported history is
compared with the one recorded on the machine named in ``RECORDED``.

Run as a script to print the hashes (``--slices brief`` for the larger slices)::

    PYTHONPATH=$PWD python tests/training/test_reproducible.py [--slices test|brief]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import torch

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

# articles per BBC category (two categories), CoNLL train and valid documents (their first
# sentences), SST-2 sentences, Financial PhraseBank sentences
SLICES = {
    "test": {"bbc": 13, "bbc_val_share": 0.4, "conll": (6, 3), "conll_sentences": 6,
             "sst2": 120, "fpb": 30},
    "brief": {"bbc": 30, "bbc_val_share": 0.2, "conll": (30, 10), "conll_sentences": 0,
              "sst2": 200, "fpb": 60},
}

# The hashes of the "test" slices, and where they were recorded: another CPU or torch build
# may round differently, so elsewhere the test skips (re-record with this file as a script).
RECORDED: dict[str, Any] = {
    "platform": "torch 2.13.0+cpu, AVX512, x86_64",
    "hashes": {
        "classify": "6f9a82042b1fe9a6d231a384d69d9f0562dcbafd1a56de5ce954a8b2a9d61552",
        "entities": "80371eed8f6401d079c17b98a6dbf4e34f3c41896c156170c206e095ff20c688",
        "entities_continued": "5f8fd4a740804c374a84f4b892e2baafe381dd89d84f36342c3ffa6be763a496",
        "sentiment": "c9e1699b5488f4c4b12ef32b5084fac4705c4af9a7e5f29032be4c4e3288dfe4",
        "sentiment_continued": "99ef23a40c6ec31a4471d4fd9e680180f4bf3d65ac91c0ff8b4f36c08eb7d6f4",
    },
}


def platform_key() -> str:
    return f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, {platform.machine()}"


def _tensors(h: dict[str, str], prefix: str, named: dict[str, torch.Tensor]) -> None:
    for name, t in sorted(named.items()):
        t = t.detach().cpu().contiguous()
        digest = hashlib.sha256(t.numpy().tobytes()).hexdigest()
        h[f"{prefix}.{name}"] = f"{t.dtype} {tuple(t.shape)} {digest}"


def _trainable(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _digest(tensors: dict[str, str], record: Any) -> str:
    text = json.dumps({"tensors": tensors, "record": record}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _no_seconds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def _classify(encoder: Any, s: dict[str, Any]) -> str:
    from workflowd.training.classify import ClassifyParams, train_classifier
    from workflowd.training.data import LabelledTexts

    rows = [json.loads(line) for line in (DATA / "bbc_news_summary" / "train.jsonl").open(encoding="utf-8")]
    picked = [r for c in ("business", "sport") for r in [r for r in rows if r["category"] == c][: s["bbc"]]]
    data = LabelledTexts([r["text"] for r in picked], [r["category"] for r in picked], "bbc slice")
    params = ClassifyParams(method="lora", epochs=2, batch_size=8, val_share=s["bbc_val_share"], seed=13)
    out = train_classifier(encoder, data, params, descriptions={"business": "business and markets"})
    tensors: dict[str, str] = {}
    _tensors(tensors, "model", _trainable(out.tuned_model))
    _tensors(tensors, "classifier", {"weight": torch.from_numpy(out.classifier.weight),
                                     "bias": torch.from_numpy(out.classifier.bias)})
    history = _no_seconds([asdict(r) for r in out.history])
    return _digest(tensors, {"history": history, "metrics": out.metrics})


def _entities(encoder: Any, s: dict[str, Any], folder: Path) -> dict[str, str]:
    from workflowd.ner.bio import tag_names
    from workflowd.ner.conll import TYPES, read_conll
    from workflowd.training.entities import EntityParams, prepare, train_prepared

    n_train, n_val = s["conll"]
    cut = s["conll_sentences"]

    def docs(name: str, n: int) -> list[Any]:
        out = read_conll(DATA / "conll2003" / name)[:n]
        for d in out:
            d.sentences = d.sentences[:cut] if cut else d.sentences
        return out

    tags = tag_names(TYPES)
    train = prepare(encoder, docs("train.txt", n_train), tags)
    val = prepare(encoder, docs("valid.txt", n_val), tags)
    hashes = {}
    for name, init, params in (
        ("entities", None, EntityParams(epochs=2, seed=3)),
        ("entities_continued", folder / "tagger",
         EntityParams(epochs=2, lr=3e-4, head_lr=3e-4, anchor=0.3, seed=4)),
    ):
        out = train_prepared(encoder, list(reversed(train)) if init else train, val, params, init=init)
        if init is None:
            out.tagger.save(folder / "tagger", out.adapter_model, {})
        tensors: dict[str, str] = {}
        _tensors(tensors, "model", _trainable(out.adapter_model))
        _tensors(tensors, "head", out.tagger.head.state_dict())
        meta = {k: v for k, v in out.meta.items() if k not in ("train_seconds", "history", "continued_from")}
        record = {"history": _no_seconds(out.history), "metrics": out.metrics, "meta": meta}
        hashes[name] = _digest(tensors, record)
    return hashes


def _sentiment(encoder: Any, s: dict[str, Any], folder: Path) -> dict[str, str]:
    from workflowd.sentiment.data import SentimentData, load_sentiment_file
    from workflowd.training.sentiment import SentimentParams, train_sentiment

    def head(data: SentimentData, n: int) -> SentimentData:
        return SentimentData(data.texts[:n], data.labels[:n], data.sha256, data.source)

    sst2 = load_sentiment_file(DATA / "sst2" / "train.tsv")
    fpb = load_sentiment_file(DATA / "financial_phrasebank" / "sentences_allagree.train.tsv")
    sources = [head(sst2, s["sst2"]), head(fpb, s["fpb"])]
    hashes = {}
    for name, init, params in (
        ("sentiment", None, SentimentParams(epochs=2, batch_size=16, val_share=0.1, seed=5)),
        ("sentiment_continued", folder / "sentiment",
         SentimentParams(epochs=2, batch_size=16, lr=3e-4, head_lr=1e-3, val_share=0.1, anchor=0.3, seed=6)),
    ):
        out = train_sentiment(encoder, sources[::-1] if init else sources, params, init=init)
        if init is None:
            out.model.save(folder / "sentiment", out.adapter_model, {})
        tensors: dict[str, str] = {}
        _tensors(tensors, "model", _trainable(out.adapter_model))
        _tensors(tensors, "head", out.model.head.state_dict())
        meta = {k: v for k, v in out.meta.items() if k not in ("train_seconds", "continued_from")}
        record = {"history": _no_seconds(out.history), "metrics": out.metrics, "meta": meta}
        hashes[name] = _digest(tensors, record)
    return hashes


def training_hashes(encoder: Any, slices: str = "test") -> dict[str, str]:
    """The sha256 of what each trainer gives on the slices, on one thread."""
    s = SLICES[slices]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return {"classify": _classify(encoder, s), **_entities(encoder, s, Path(tmp)),
                    **_sentiment(encoder, s, Path(tmp))}
    finally:
        torch.set_num_threads(threads)


def test_training_reproduces_the_recorded_numbers(encoder) -> None:  # noqa: ANN001
    for part in ("bbc_news_summary", "conll2003", "sst2", "financial_phrasebank"):
        if not (DATA / part).exists():
            pytest.skip(f"public data not found at {DATA / part}")
    if RECORDED["platform"] != platform_key():
        pytest.skip(f"hashes recorded on {RECORDED['platform']}, this is {platform_key()}")
    from workflowd.config import ModelSettings
    from workflowd.models.encoder import Encoder

    # recorded in torch: the features that classify and the taggers train on come from the
    # encoder's runtime, and ONNX Runtime's equal torch's to 1e-6, not bit for bit
    torch_encoder = Encoder(ModelSettings(runtime="torch"), model=encoder.model, tokenizer=encoder.tokenizer)
    assert training_hashes(torch_encoder) == RECORDED["hashes"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", choices=sorted(SLICES), default="test")
    args = parser.parse_args()
    from workflowd.config import ModelSettings
    from workflowd.models.encoder import Encoder

    hashes = training_hashes(Encoder(ModelSettings(runtime="torch")), args.slices)
    json.dump({"platform": platform_key(), "slices": args.slices, "hashes": hashes}, sys.stdout, indent=2)
    print()
