"""Classification benchmark on BBC News: workflowd beside the paperless-ngx recipe and classic baselines.

    python benchmarks/classify_bbc.py            # everything (about an hour on 2 CPU cores)
    python benchmarks/classify_bbc.py --quick    # no LoRA / full fine-tuning, 2 few-shot seeds

Data: ../shared/data/bbc_news_summary/train.jsonl, split by benchmarks/bbc.py into a fixed
training part (1334 articles) and evaluation part (446), never used for any choice.
Everything is measured in this one run, on the same splits; results go to
benchmarks/results/classify_bbc.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bbc  # noqa: E402

from workflowd.config import ModelSettings  # noqa: E402
from workflowd.models.classifier import Classifier, zero_shot  # noqa: E402
from workflowd.models.encoder import Encoded, Encoder  # noqa: E402
from workflowd.training.classify import ClassifyParams, train_classifier  # noqa: E402
from workflowd.training.data import LabelledTexts  # noqa: E402
from workflowd.training.metrics import classification_metrics  # noqa: E402

# One line per label, written once from general knowledge (not tuned on any split).
DESCRIPTIONS = bbc.DESCRIPTIONS
RESULTS = Path(__file__).resolve().parent / "results" / "classify_bbc.json"
THRESHOLDS = (0.5, 0.7, 0.8, 0.9)


class CachedEncoder(Encoder):
    """The real encoder, remembering what it encoded: each article goes through the model once."""

    def __init__(self, settings: ModelSettings):
        super().__init__(settings)
        self._cache: dict[str, Encoded] = {}

    def encode_documents(self, texts: Sequence[str], *, tokens: bool = False) -> list[Encoded]:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            for t, e in zip(todo, super().encode_documents(todo, tokens=tokens), strict=True):
                self._cache[t] = e
        return [self._cache[t] for t in texts]


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict:
    m = classification_metrics(list(y_true), list(y_pred))
    return {"macro_f1": round(m["macro_f1"], 4), "accuracy": round(m["accuracy"], 4)}


# -- baselines ------------------------------------------------------------------------------

def paperless(train_x, train_y, test_x) -> list[str]:  # noqa: ANN001
    """paperless-ngx's classifier recipe: lower-case word 1-2-grams, min_df=0.01, MLPClassifier(tol=0.01)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.neural_network import MLPClassifier

    vec = CountVectorizer(analyzer="word", lowercase=True, ngram_range=(1, 2), min_df=0.01)
    model = MLPClassifier(tol=0.01, random_state=0).fit(vec.fit_transform(train_x), train_y)
    return list(model.predict(vec.transform(test_x)))


def tfidf_lr(train_x, train_y, test_x) -> list[str]:  # noqa: ANN001
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1)
    model = LogisticRegression(C=10, max_iter=5000).fit(vec.fit_transform(train_x), train_y)
    return list(model.predict(vec.transform(test_x)))


def frozen_lr(train_e, train_y, test_e) -> list[str]:  # noqa: ANN001
    from sklearn.linear_model import LogisticRegression

    return list(LogisticRegression(C=10, max_iter=5000).fit(train_e, train_y).predict(test_e))


# -- workflowd ------------------------------------------------------------------------------

def predict(clf: Classifier, encoder: Encoder, texts: list[str]) -> tuple[list[str], np.ndarray]:
    enc = clf.encoder or encoder
    probs = clf.proba(np.stack([e.embedding for e in enc.encode_documents(texts)]))
    return [clf.labels[i] for i in probs.argmax(1)], probs


def abstention(clf: Classifier, probs: np.ndarray, truth: list[str]) -> dict:
    pred = np.array([clf.labels[i] for i in probs.argmax(1)])
    out = {}
    for t in THRESHOLDS:
        kept = probs.max(1) >= t
        out[str(t)] = {"coverage": round(float(kept.mean()), 4),
                       "accuracy_labelled": round(float((pred[kept] == np.array(truth)[kept]).mean()), 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="skip LoRA and full fine-tuning; 2 few-shot seeds")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--shots", type=int, default=8)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    seeds = range(2 if args.quick else args.seeds)
    results: dict = {}

    train, evaluation = bbc.split(bbc.load())
    tx, ty = [bbc.document(r) for r in train], [r["category"] for r in train]
    ex, ey = [bbc.document(r) for r in evaluation], [r["category"] for r in evaluation]
    print(f"BBC: {len(train)} training articles, {len(evaluation)} evaluation articles")

    encoder = CachedEncoder(ModelSettings())
    t0 = time.perf_counter()
    encoded = encoder.encode_documents(tx + ex)
    seconds = time.perf_counter() - t0
    windows = sum(e.passes for e in encoded)
    results["encoding"] = {"docs": len(encoded), "windows": windows, "seconds": round(seconds, 1),
                           "docs_per_s": round(len(encoded) / seconds, 2), "windows_per_doc": round(windows / len(encoded), 2)}
    print(f"encoding: {results['encoding']}")
    E = {t: e.embedding for t, e in zip(tx + ex, encoded, strict=True)}
    TE, EE = np.stack([E[t] for t in tx]), np.stack([E[t] for t in ex])

    # 1. zero-shot
    zs = {}
    names = encoder.encode_texts(list(DESCRIPTIONS))
    zs["cosine to label names"] = scores(ey, [list(DESCRIPTIONS)[i] for i in (EE @ names.T).argmax(1)])
    plain = encoder.encode_texts(list(DESCRIPTIONS.values()))
    zs["cosine to descriptions"] = scores(ey, [list(DESCRIPTIONS)[i] for i in (EE @ plain.T).argmax(1)])
    clf = zero_shot(encoder, DESCRIPTIONS)
    pred, probs = predict(clf, encoder, ex)
    zs["workflowd zero-shot"] = {**scores(ey, pred), "abstention": abstention(clf, probs, ey)}
    results["zero_shot"] = zs
    print(f"zero-shot: {json.dumps(zs)}")

    # 2. few-shot: k labelled articles per label, seeded samples; the rest of the training part
    #    is the store's unlabelled documents for self-training
    few: dict[str, list[dict]] = {}
    labels = sorted(DESCRIPTIONS)
    ty_arr = np.array(ty)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        pick = np.concatenate([rng.choice(np.where(ty_arr == c)[0], args.shots, replace=False) for c in labels])
        rest = np.setdiff1d(np.arange(len(tx)), pick)
        sx, sy = [tx[i] for i in pick], [ty[i] for i in pick]
        data = LabelledTexts(sx, sy, f"seed{seed}")
        row = {
            "paperless-ngx recipe": scores(ey, paperless(sx, sy, ex)),
            "TF-IDF + logistic regression": scores(ey, tfidf_lr(sx, sy, ex)),
            "frozen MiniLM + logistic regression": scores(ey, frozen_lr(TE[pick], sy, EE)),
        }
        out = train_classifier(encoder, data, ClassifyParams(method="head"), DESCRIPTIONS)
        row["workflowd head"] = scores(ey, predict(out.classifier, encoder, ex)[0])
        out = train_classifier(encoder, data, ClassifyParams(method="head"), DESCRIPTIONS, unlabeled=TE[rest])
        row["workflowd head + self-training on the unlabelled rest"] = scores(ey, predict(out.classifier, encoder, ex)[0])
        for name, value in row.items():
            few.setdefault(name, []).append(value)
        print(f"{args.shots}-shot seed {seed}: {json.dumps(row)}")
    results[f"{args.shots}_shot"] = {
        name: {"macro_f1_mean": round(float(np.mean([v["macro_f1"] for v in vals])), 4),
               "macro_f1_std": round(float(np.std([v["macro_f1"] for v in vals])), 4), "runs": vals}
        for name, vals in few.items()
    }

    # 3. all training articles
    full = {
        "paperless-ngx recipe": scores(ey, paperless(tx, ty, ex)),
        "TF-IDF + logistic regression": scores(ey, tfidf_lr(tx, ty, ex)),
        "frozen MiniLM + logistic regression": scores(ey, frozen_lr(TE, ty, EE)),
    }
    data = LabelledTexts(tx, ty, "bbc-train")
    for method in ("head",) if args.quick else ("head", "lora", "full"):
        params = ClassifyParams(method=method, **({"train_windows": 1, "epochs": 2} if method != "head" else {}))
        t0 = time.perf_counter()
        out = train_classifier(encoder, data, params, DESCRIPTIONS,
                               progress=lambda r, m=method: print(f"  {m} epoch {r.epoch}: loss {r.train_loss:.4f} "
                                                                 f"val {r.val_loss} {r.seconds:.0f}s", flush=True))
        train_s = time.perf_counter() - t0
        if out.tuned_model is not None:  # its own fine-tuned encoder: a second pass per document
            out.classifier.encoder = Encoder(ModelSettings(), model=out.tuned_model, tokenizer=encoder.tokenizer)
        t0 = time.perf_counter()
        pred, probs = predict(out.classifier, encoder, ex)
        full[f"workflowd {method}"] = {**scores(ey, pred), "train_seconds": round(train_s, 1),
                                       "predict_seconds": round(time.perf_counter() - t0, 1),
                                       "passes_per_doc": 1 if method == "head" else 2,
                                       "validation": out.metrics, "abstention": abstention(out.classifier, probs, ey)}
        print(f"all data, {method}: {json.dumps({k: v for k, v in full[f'workflowd {method}'].items() if k != 'validation'})}")
    results["all_training_data"] = full

    # 5. head training time on 500 examples (the embeddings of a daemon's documents are stored,
    #    so this is what retraining costs; encoding 500 new texts is reported beside it)
    sub = LabelledTexts(tx[:500], ty[:500], "bbc-500")
    t0 = time.perf_counter()
    train_classifier(encoder, sub, ClassifyParams(method="head"), DESCRIPTIONS)
    head_s = time.perf_counter() - t0
    fresh = Encoder(ModelSettings())
    t0 = time.perf_counter()
    fresh.encode_documents(tx[:500])
    enc_s = time.perf_counter() - t0
    results["head_500"] = {"train_seconds_embeddings_known": round(head_s, 1), "encode_500_seconds": round(enc_s, 1),
                           "total_seconds_from_text": round(head_s + enc_s, 1)}
    print(f"head on 500 examples: {results['head_500']}")

    # 6. the same through the CLI contract: workflowd train / eval --json
    results["cli"] = cli_check(train, evaluation)
    print(f"CLI train/eval: {results['cli']}")

    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


def cli_check(train: list[dict], evaluation: list[dict]) -> dict:
    """`workflowd train --task classify --data` then `eval --json`, in a throwaway data dir."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for name, rows in (("train.jsonl", train), ("eval.jsonl", evaluation)):
            with (tmp_path / name).open("w") as fh:
                for r in rows:
                    fh.write(json.dumps({"text": bbc.document(r), "label": r["category"]}) + "\n")
        config = tmp_path / "config.toml"
        labels = "".join(f"{k} = {json.dumps(v)}\n" for k, v in DESCRIPTIONS.items())
        config.write_text(f'data_dir = "{tmp_path / "data"}"\n[steps.classify.labels]\n{labels}')
        base = [sys.executable, "-m", "workflowd", "--config", str(config)]
        t0 = time.perf_counter()
        subprocess.run([*base, "train", "--task", "classify", "--data", str(tmp_path / "train.jsonl"), "--json"],
                       check=True, capture_output=True)
        train_s = time.perf_counter() - t0
        out = subprocess.run([*base, "eval", "--task", "classify", "--data", str(tmp_path / "eval.jsonl"), "--json"],
                             check=True, capture_output=True, text=True)
        m = json.loads(out.stdout)["metrics"]
        return {"macro_f1": round(m["macro_f1"], 4), "accuracy": round(m["accuracy"], 4),
                "train_seconds": round(train_s, 1), "abstention": m["abstention"]}


if __name__ == "__main__":
    main()
