"""How much of a long document the embedding should read: zero-shot macro-F1 and cost by windows.

    python benchmarks/chunking_bbc.py

Measured on the training part of the BBC split (benchmarks/bbc.py): zero-shot needs no
training, so the evaluation part stays untouched. For each cap on the number of windows
(``[model] max_chunks``), the document embedding is the token-weighted mean of the first N
windows; the first row reads only the first 256 tokens.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bbc  # noqa: E402
from classify_bbc import DESCRIPTIONS  # noqa: E402

from workflowd.config import ModelSettings  # noqa: E402
from workflowd.models.classifier import zero_shot  # noqa: E402
from workflowd.models.encoder import Encoder  # noqa: E402
from workflowd.training.metrics import classification_metrics  # noqa: E402


def main() -> None:
    train, _ = bbc.split(bbc.load())
    texts, truth = [bbc.document(r) for r in train], [r["category"] for r in train]
    encoder = Encoder(ModelSettings(max_chunks=64))
    clf = zero_shot(encoder, DESCRIPTIONS)
    t0 = time.perf_counter()
    encoded = encoder.encode_documents(texts)
    seconds = time.perf_counter() - t0
    windows = np.array([e.passes for e in encoded])
    print(f"{len(texts)} articles: {windows.mean():.2f} windows each (max {windows.max()}), "
          f"{windows.sum() / seconds:.1f} windows/s, {len(texts) / seconds:.1f} articles/s")
    print("max_chunks  windows/doc  zero-shot macro-F1")
    for cap in (1, 2, 4, 8, 64):
        X = []
        for e in encoded:
            w = np.array([len(c.input_ids) for c in e.chunks[:cap]], dtype=np.float32)
            v = (e.chunk_embeddings[:cap] * w[:, None]).sum(0)
            X.append(v / np.linalg.norm(v))
        pred = [clf.labels[i] for i in clf.proba(np.stack(X)).argmax(1)]
        f1 = classification_metrics(truth, pred)["macro_f1"]
        print(f"{cap:>10}  {np.minimum(windows, cap).mean():>11.2f}  {f1:.4f}")


if __name__ == "__main__":
    main()
