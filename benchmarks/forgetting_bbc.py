"""Forgetting: does learning new labels from corrections cost the labels learnt before?

    python benchmarks/forgetting_bbc.py [--per-label 40] [--margin 0.02]

On the fixed BBC split (benchmarks/bbc.py), as an owner would teach workflowd:
1. corrections for 3 labels (business, sport, tech; N training articles each), then
   `retrain` (the daemon's retraining from corrections) -> v1;
2. two new labels appear (entertainment, politics): N corrections each are added, and the
   retrain replays the earlier corrections with the new ones -> v2, promoted only if not
   worse than v1 by more than the margin on held-out corrections and on v1's validation data.
Accuracy on the evaluation part's articles of the first three labels is measured for v1 and
v2 (never trained on): the drop is the forgetting. Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bbc  # noqa: E402

OLD = ("business", "sport", "tech")
NEW = ("entertainment", "politics")
DESCRIPTIONS = bbc.DESCRIPTIONS


def main() -> int:
    import numpy as np

    from workflowd.config import Settings
    from workflowd.models import classifier as clf_mod
    from workflowd.models.provider import ModelProvider
    from workflowd.runtime import task
    from workflowd.store import Store
    from workflowd.training.retrain import retrain

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-label", type=int, default=40)
    ap.add_argument("--margin", type=float, default=0.02)
    args = ap.parse_args()
    train, evaluation = bbc.split(bbc.load())
    tmp = Path(tempfile.mkdtemp())

    def settings(labels: tuple[str, ...]) -> Settings:
        return Settings(
            data_dir=tmp,
            training={"margin": args.margin},
            steps={"classify": {"labels": {k: DESCRIPTIONS[k] for k in labels}}},
        )

    store = Store(settings(OLD).db_path)

    def teach(labels: tuple[str, ...]) -> None:
        for label in labels:
            for row in [r for r in train if r["category"] == label][: args.per_label]:
                text = bbc.document(row)
                store.corrections.add(
                    "classify",
                    {"label": label},
                    text=text,
                    author="benchmark",
                    sha256=hashlib.sha256(text.encode()).hexdigest(),
                    origin="benchmark",
                )

    provider = ModelProvider(settings(OLD + NEW))
    ev = [r for r in evaluation if r["category"] in OLD + NEW]
    X = np.stack([e.embedding for e in provider.encoder.encode_documents([bbc.document(r) for r in ev])])
    truth = np.array([r["category"] for r in ev])
    old_rows = np.isin(truth, OLD)

    def accuracy(clf) -> dict[str, float]:  # noqa: ANN001
        pred = np.array(clf.labels)[clf.proba(X).argmax(1)]
        return {"old_labels": float((pred[old_rows] == truth[old_rows]).mean()),
                "new_labels": float((pred[~old_rows] == truth[~old_rows]).mean()),
                "version": clf.model_version}

    def trained(result) -> dict[str, float]:  # noqa: ANN001
        """The retrained model itself, promoted or not: forgetting is a property of training."""
        return accuracy(clf_mod.load(result.version.path, provider.settings.model, version=result.version.version))

    results = {}
    zs = ModelProvider(settings(OLD + NEW))
    zs._encoder = provider.encoder
    results["zero-shot"] = accuracy(task(settings(OLD + NEW), "classify", zs).resolve())
    teach(OLD)
    r1 = retrain(settings(OLD), task(settings(OLD), "classify").make_retrainer())
    results["v1"] = {"promoted": r1.promoted, "reason": r1.reason, **trained(r1), "comparison": r1.comparison}
    teach(NEW)
    r2 = retrain(settings(OLD + NEW), task(settings(OLD + NEW), "classify").make_retrainer())
    results["v2"] = {"promoted": r2.promoted, "reason": r2.reason, **trained(r2), "comparison": r2.comparison}
    drop = results["v1"]["old_labels"] - results["v2"]["old_labels"]
    print(
        f"{args.per_label} corrections per label; evaluation articles: {int(old_rows.sum())} of "
        f"{', '.join(OLD)}, {int((~old_rows).sum())} of {', '.join(NEW)}"
    )
    print("| model | labels | accuracy on the first 3 labels' articles | on the 2 new labels' articles | gate |")
    print("|---|---|---|---|---|")
    z = results["zero-shot"]
    print(f"| zero-shot (descriptions of all 5) | all 5 | {z['old_labels']:.4f} | {z['new_labels']:.4f} | |")
    for name, r, labels in (("v1", r1, ", ".join(OLD)), ("v2", r2, "all 5")):
        row = results[name]
        new_acc = "(unknown to it)" if name == "v1" else f"{row['new_labels']:.4f}"
        gate = "promoted" if r.promoted else f"rejected: {r.reason}"
        print(f"| {name} | {labels} | {row['old_labels']:.4f} | {new_acc} | {gate} |")
    print(f"forgetting on the first labels: {drop:+.4f} (margin {args.margin})")
    bbc.save_results("forgetting_bbc", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
