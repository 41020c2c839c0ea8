"""torch against ONNX Runtime (fp32 fused, int8 per-channel) for the shared pass and a branch.

    python benchmarks/onnx_runtime.py [--threads 2] [--batches 4] [--rounds 2]

One run, on the bundled model, over full windows of real text (BBC articles, 256 tokens,
``--batch`` windows a batch): seconds per batch of the trunk (the shared pass, keeping the
hidden states at fork 5 as the default pipeline does) and of a one-layer task branch, the
cosine of each runtime's mean-pooled window embeddings to torch's, the time to export and
fuse the graphs at the first start, and the time to load them from the cache afterwards.
Rounds alternate the runtimes, so a noisy machine hurts them alike. Not part of the tests.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bbc

from workflowd.config import ModelSettings
from workflowd.models.branch import Branch
from workflowd.models.encoder import Encoder, pad_windows


def pooled(states: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    m = mask.unsqueeze(-1).float()
    x = ((states * m).sum(1) / m.sum(1)).numpy()
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    base = Encoder(ModelSettings(threads=args.threads, runtime="torch"))
    fork = base.layers - 1
    forks = frozenset({fork})
    windows = []
    for row in bbc.load():
        windows += [c for c in base.chunk(bbc.document(row)) if len(c.input_ids) == base.max_tokens]
        if len(windows) >= args.batch * args.batches:
            break
    batches = [pad_windows(windows[i : i + args.batch], base.pad_id) for i in range(0, args.batch * args.batches,
                                                                                       args.batch)]
    branch = Branch.from_encoder(base.model, 1).eval().requires_grad_(False)

    cache = Path(tempfile.mkdtemp(prefix="workflowd-onnx-bench-"))
    encoders = {"torch": base}
    setup: dict[str, dict[str, float]] = {"torch": {}}
    for quantize in ("none", "int8"):
        name = "onnx fp32" if quantize == "none" else "onnx int8"
        settings = ModelSettings(threads=args.threads, runtime="onnx", quantize=quantize)
        t0 = time.perf_counter()
        enc = Encoder(settings, model=base.model, tokenizer=base.tokenizer, cache_dir=cache)
        enc.prepare(forks)
        export_trunk = time.perf_counter() - t0
        t0 = time.perf_counter()
        enc.onnx._branch_graph(branch)
        export_branch = time.perf_counter() - t0
        assert enc.onnx.exports == 2, f"{name}: expected 2 exports, got {enc.onnx.exports} (fell back to torch?)"
        t0 = time.perf_counter()
        again = Encoder(settings, model=base.model, tokenizer=base.tokenizer, cache_dir=cache)
        again.prepare(forks)
        again.onnx._branch_graph(branch)
        cached = time.perf_counter() - t0
        assert again.onnx.exports == 0 and again.onnx.loads == 2
        encoders[name] = again
        setup[name] = {"export": export_trunk, "export_branch": export_branch, "cached": cached}

    trunk_s: dict[str, list[float]] = {n: [] for n in encoders}
    branch_s: dict[str, list[float]] = {n: [] for n in encoders}
    emb: dict[str, list[np.ndarray]] = {n: [] for n in encoders}
    br_out: dict[str, list[np.ndarray]] = {n: [] for n in encoders}
    for _ in range(args.rounds):
        for name, enc in encoders.items():
            with torch.inference_mode():
                enc.trunk(*batches[0], forks)  # warm-up
                emb[name], br_out[name] = [], []
                for ids, mask in batches:
                    t0 = time.perf_counter()
                    last, hidden = enc.trunk(ids, mask, forks)
                    trunk_s[name].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    states = enc.run_branch(branch, hidden[fork], mask)
                    branch_s[name].append(time.perf_counter() - t0)
                    emb[name].append(pooled(last, mask))
                    br_out[name].append(pooled(states, mask))

    ref, ref_br = np.concatenate(emb["torch"]), np.concatenate(br_out["torch"])
    print(f"{len(windows)} windows of {base.max_tokens} tokens, batches of {args.batch}, {args.threads} threads, "
          f"{args.rounds} rounds (median s/batch)")
    print(f"{'runtime':10} {'trunk s':>8} {'speed-up':>8} {'branch s':>8} {'speed-up':>8} {'cos mean':>8} "
          f"{'cos min':>8} {'br cos':>8} {'export s':>9} {'cached s':>8}")
    t_ref, b_ref = statistics.median(trunk_s["torch"]), statistics.median(branch_s["torch"])
    for name in encoders:
        t, b = statistics.median(trunk_s[name]), statistics.median(branch_s[name])
        cos = (np.concatenate(emb[name]) * ref).sum(1)
        bcos = (np.concatenate(br_out[name]) * ref_br).sum(1)
        s = setup[name]
        export = f"{s['export']:.1f}+{s['export_branch']:.1f}" if s else "-"
        cached = f"{s['cached']:.2f}" if s else "-"
        print(f"{name:10} {t:8.3f} {t_ref / t:7.2f}x {b:8.3f} {b_ref / b:7.2f}x {cos.mean():8.4f} {cos.min():8.4f} "
              f"{bcos.mean():8.4f} {export:>9} {cached:>8}")
    shutil.rmtree(cache, ignore_errors=True)
    print("export s: trunk (fork set and the plain one) + branch, at the first start; cached s: both loaded "
          "(weights hashed, sessions built, checked against torch)")


if __name__ == "__main__":
    main()
