"""Refit the multi-task encoder's restoration network alone, the tuned encoder frozen (issue 14).

    PYTHONPATH=$PWD python experiments/multitask/train_restore.py ARTIFACTS_ENCODER [EPOCHS]

The restoration (models/multitask.py, ``Restore``) maps the tuned last layer back to the
original all-MiniLM-L6-v2 token states, which document embeddings, zero-shot labels,
classification heads and summaries read. Trained jointly with the encoder (train_mt4/5), it
reached a document-embedding cosine of 0.962 to the original. Here the encoder no longer
moves (the entity and sentiment heads read its states before the restoration, so they do not
change), and only the restoration learns, from its current weights: token states (MSE) and
mean-pooled window embeddings (cosine), over the BBC *training* part (benchmarks/bbc.py, all
windows a document gets), CoNLL-2003 train documents, SST-2 and PhraseBank training sentences,
and those sentences put in a zero-shot prompt ("This text is about ..."). No evaluation
file is read. The last 100 BBC training articles are held out and printed before and after.

Writes ``extra.safetensors`` in ARTIFACTS_ENCODER again (the word-shape table kept).
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from workflowd.config import ModelSettings
from workflowd.models.classifier import ZERO_SHOT_TEMPLATE
from workflowd.models.encoder import Encoder, load_pretrained, pad_types, pad_windows, resolve_base
from workflowd.ner.conll import read_conll
from workflowd.sentiment.data import load_sentiment_file

ENC = Path(sys.argv[1])
EPOCHS = int(sys.argv[2]) if len(sys.argv) > 2 else 6
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
torch.manual_seed(0)
random.seed(0)
torch.set_num_threads(2)

enc = Encoder(ModelSettings(threads=2))
assert enc.tuned, "the bundled encoder with its multi-task tuning is needed"
tuned = enc.model.encoder_model.eval()
restore = enc.model.restore
teacher, _ = load_pretrained(resolve_base("bundled"), "bundled")
teacher.eval()

bbc = [json.loads(line) for line in open("/tmp/bbc/train.jsonl")]
held, bbc = bbc[-100:], bbc[:-100]
texts = [f"{a['title']}\n\n{a['text']}" for a in bbc]
texts += [d.text_and_spans()[0] for d in read_conll(SHARED / "conll2003" / "train.txt")[:400]]
sents = load_sentiment_file(Path("/tmp/sent/sst2_train.jsonl")).texts
sents = random.sample([s for s in sents if len(s.split()) >= 6], 3000)
sents += random.sample(load_sentiment_file(Path("/tmp/sent/fpb_train.jsonl")).texts, 1000)
prompts = [ZERO_SHOT_TEMPLATE.format(label="", description=s.rstrip(" .")) for s in random.sample(sents, 1500)]
texts += sents + prompts
print(f"{len(texts)} texts ({len(bbc)} BBC training articles, 400 CoNLL documents, {len(sents)} sentences, "
      f"{len(prompts)} prompts)", flush=True)


@torch.inference_mode()
def states(items: list[str], max_chunks: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(tuned last-layer states, original states) per window, fp16, unpadded."""
    chunks = [c for t in items for c in enc.chunk(t, max_chunks=max_chunks)]
    order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].input_ids))
    out: list[tuple[torch.Tensor, torch.Tensor]] = []
    for b in range(0, len(order), 32):
        batch = [chunks[i] for i in order[b:b + 32]]
        ids, mask = pad_windows(batch, enc.pad_id)
        s = tuned(input_ids=ids, attention_mask=mask, token_type_ids=pad_types(batch)).last_hidden_state
        t = teacher(input_ids=ids, attention_mask=mask).last_hidden_state
        for row, c in enumerate(batch):
            n = len(c.input_ids)
            out.append((s[row, :n].half(), t[row, :n].half()))
    return out


def fidelity(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
    """Mean cosine of window embeddings and of token states, restored against original."""
    with torch.inference_mode():
        pooled, tokens = [], []
        for s, t in pairs:
            r = restore(s.float())
            pooled.append(F.cosine_similarity(r.mean(0), t.float().mean(0), dim=0).item())
            tokens.append(F.cosine_similarity(r, t.float(), dim=-1).mean().item())
    return float(np.mean(pooled)), float(np.mean(tokens))


t0 = time.time()
held_pairs = states([f"{a['title']}\n\n{a['text']}" for a in held])
print(f"held-out BBC training articles, before: window cosine {fidelity(held_pairs)[0]:.4f}, "
      f"token cosine {fidelity(held_pairs)[1]:.4f}", flush=True)
pairs = states(texts)
print(f"{len(pairs)} windows encoded in {time.time() - t0:.0f} s", flush=True)

opt = torch.optim.AdamW(restore.parameters(), lr=3e-4, weight_decay=0.01)
steps = EPOCHS * ((len(pairs) + 15) // 16)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-4, total_steps=steps, pct_start=0.05)
restore.train()
for epoch in range(EPOCHS):
    random.shuffle(pairs)
    total = 0.0
    for b in range(0, len(pairs), 16):
        batch = pairs[b:b + 16]
        loss = 0.0
        for s, t in batch:
            r = restore(s.float())
            t = t.float()
            loss = loss + F.mse_loss(r, t) + 10 * (1 - F.cosine_similarity(r.mean(0), t.mean(0), dim=0))
        loss = loss / len(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss) * len(batch)
    restore.eval()
    print(f"epoch {epoch + 1}: loss {total / len(pairs):.4f}; held out: window cosine {fidelity(held_pairs)[0]:.4f}, "
          f"token cosine {fidelity(held_pairs)[1]:.4f} ({time.time() - t0:.0f} s)", flush=True)
    restore.train()

restore.eval()
extra = load_file(str(ENC / "extra.safetensors"))
extra.update({f"restore.{k}": v.detach().contiguous() for k, v in restore.state_dict().items()})
save_file(extra, str(ENC / "extra.safetensors"))
print("written", ENC / "extra.safetensors")
