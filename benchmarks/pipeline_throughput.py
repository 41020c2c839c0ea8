"""Throughput of the pipeline steps beside one raw encoder pass, in one run.

    python benchmarks/pipeline_throughput.py [--docs 96]

Texts: the first N articles of the BBC evaluation part (benchmarks/bbc.py), about 2.5
windows of 256 tokens each. Each configuration runs the daemon's own Pipeline.run_batch in
batches of 8 documents (model.batch_documents) after one warm-up batch; "raw encoder" is one
encode_documents pass (the document embedding, nothing else). Ratios are raw time / time.
Encoder work is counted in tokens run through a transformer per document, divided by the
tokens of the raw pass ("passes"). Results go to benchmarks/results/pipeline_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bbc  # noqa: E402

CONFIGS = {
    "classify": ["classify"],
    "classify + summarize": ["classify", "summarize"],
    "entities": ["entities"],
    "sentiment": ["sentiment"],
    "default pipeline (classify, entities, summarize, sentiment)": [
        "classify",
        "entities",
        "summarize",
        "sentiment",
    ],
}


class TokenCounter:
    """Counts the non-padding tokens every forward of every transformer sees."""

    def __init__(self) -> None:
        self.tokens = 0

    def hook(self, module, args, kwargs) -> None:  # noqa: ANN001
        mask = kwargs.get("attention_mask")
        if mask is not None:
            self.tokens += int(mask.sum())


def main() -> int:
    import torch

    from workflowd.config import load_config
    from workflowd.pipeline import Document
    from workflowd.runtime import build_pipelines

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=96)
    args = ap.parse_args()
    _train, evaluation = bbc.split(bbc.load())
    texts = [bbc.document(a) for a in evaluation[: args.docs]]
    tmp = Path(tempfile.mkdtemp())
    lines = [f'data_dir = "{tmp}"']
    for name, steps in CONFIGS.items():
        lines += [f'[pipelines."{name}"]', f"steps = {json.dumps(steps)}"]
    (tmp / "config.toml").write_text("\n".join(lines) + "\n")
    settings = load_config(tmp / "config.toml")
    pipes = build_pipelines(settings)
    encoder = pipes.context.models.encoder
    bs = settings.model.batch_documents
    for name in CONFIGS:  # load every step's model before any hook is set (they are copies)
        pipes.require(name).run_batch([Document(id=None, text=t) for t in texts[:bs]])
    counter = TokenCounter()
    models = [encoder.model]
    for step in pipes.steps.values():
        loaded = getattr(getattr(step, "_model", None), "_loaded", None)
        model = getattr(loaded[1], "model", None) if loaded else None
        if isinstance(model, torch.nn.Module) and all(model is not m for m in models):
            models.append(model)
    for model in models:
        model.register_forward_pre_hook(counter.hook, with_kwargs=True)
    results = {}

    def timed(run) -> tuple[float, float]:  # noqa: ANN001
        run(texts[:bs])  # warm-up: loads the step's model
        counter.tokens = 0
        t0 = time.perf_counter()
        for i in range(0, len(texts), bs):
            run(texts[i : i + bs])
        return time.perf_counter() - t0, counter.tokens / len(texts)

    raw_s, raw_tokens = timed(lambda batch: encoder.encode_documents(batch))
    results["raw encoder pass"] = {
        "seconds": raw_s,
        "docs_per_s": len(texts) / raw_s,
        "ratio": 1.0,
        "passes": 1.0,
    }
    for name in CONFIGS:
        pipe = pipes.require(name)
        secs, tokens = timed(lambda batch, p=pipe: p.run_batch([Document(id=None, text=t) for t in batch]))
        results[name] = {
            "seconds": secs,
            "docs_per_s": len(texts) / secs,
            "ratio": raw_s / secs,
            "passes": tokens / raw_tokens,
        }
    print(f"{len(texts)} BBC articles, {raw_tokens:.0f} tokens each in the raw pass\n")
    print(
        "| configuration | docs/s | raw pass time / this time | encoder passes per doc |\n|---|---|---|---|"
    )
    for name, r in results.items():
        print(f"| {name} | {r['docs_per_s']:.2f} | {r['ratio']:.2f} | {r['passes']:.2f} |")
    bbc.save_results("pipeline_throughput", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
