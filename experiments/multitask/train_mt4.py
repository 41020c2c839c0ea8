"""Experiment: one multi-task LoRA adapter over the whole encoder for entities + sentiment,
distilled to the frozen encoder's pooled states so classify/summarize keep their space.

Init: the shipped tagger (adapter, head with input shapes). Sentiment head: linear on
[mean layer 5 ; mean layer 6] of the sentence's inner tokens.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from workflowd.config import ModelSettings
from workflowd.models.encoder import Encoder
from workflowd.ner.bio import tag_names
from workflowd.ner.conll import TYPES, read_conll
from workflowd.ner.shapes import shape_ids
from workflowd.ner.tagger import TaggerHead, windows
from workflowd.sentiment.data import LABELS, load_sentiment_file
from workflowd.training.entities import IGNORE, prepare
from workflowd.training.finetune import load_head_state, resume_adapter

OUT = Path(sys.argv[1])
SST_N = int(sys.argv[2]) if len(sys.argv) > 2 else 32000
LAMBDA = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
BLOCK = 16
ART = Path("workflowd/artifacts")
SHARED = Path("../shared/data")
torch.manual_seed(0)
g = np.random.default_rng(0)

enc = Encoder(ModelSettings(threads=2))
teacher = enc.model.eval()
for p in teacher.parameters():
    p.requires_grad_(False)
tags = tag_names(TYPES)
import copy as _copy

from peft import LoraConfig, PeftModel, get_peft_model

R = int(sys.argv[8]) if len(sys.argv) > 8 else 32
NER_REPEAT = int(sys.argv[9]) if len(sys.argv) > 9 else 2
KD = float(sys.argv[10]) if len(sys.argv) > 10 else 1.0
merged_tagger = PeftModel.from_pretrained(_copy.deepcopy(enc.model), str(ART / "entities" / "adapter")).merge_and_unload()
student = get_peft_model(_copy.deepcopy(merged_tagger), LoraConfig(r=R, lora_alpha=2 * R, lora_dropout=0.1,
                                                                   target_modules=["query", "key", "value", "dense"]))
tag_teacher = merged_tagger.eval()
for p_ in tag_teacher.parameters():
    p_.requires_grad_(False)
sent_teacher = PeftModel.from_pretrained(_copy.deepcopy(enc.model), str(ART / "sentiment" / "adapter")).merge_and_unload().eval()
for p_ in sent_teacher.parameters():
    p_.requires_grad_(False)
from safetensors.torch import load_file as _lf  # noqa: E402

_st = _lf(str(ART / "sentiment" / "head.safetensors"))
sent_teacher_head = torch.nn.Linear(enc.dim, 3)
sent_teacher_head.load_state_dict({"weight": _st["out.weight"], "bias": _st["out.bias"]})
sent_teacher_head.eval()
tag_head = TaggerHead(enc.dim, len(tags))
load_head_state(tag_head, ART / "entities" / "head.safetensors")
tag_teacher_head = _copy.deepcopy(tag_head).eval()
for p_ in tag_teacher_head.parameters():
    p_.requires_grad_(False)
sent_head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(2 * enc.dim, len(LABELS)))


class Restore(torch.nn.Module):
    """Token-wise residual MLP from the tuned states back to the frozen encoder's space."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.up = torch.nn.Linear(dim, hidden)
        self.down = torch.nn.Linear(hidden, dim)
        torch.nn.init.zeros_(self.down.weight)
        torch.nn.init.zeros_(self.down.bias)

    def forward(self, h):
        return h + self.down(F.gelu(self.up(h)))


restore = Restore(enc.dim, int(sys.argv[4]) if len(sys.argv) > 4 else 768)
TOKW = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0

t0 = time.time()
conll = prepare(enc, read_conll(SHARED / "conll2003" / "train.txt"), tags)
ner_items = [(w, y) for d in conll for w, y in zip(d.windows, d.labels, strict=True)]
sst = load_sentiment_file(Path("/tmp/sent/sst2_train.jsonl"))
fpb = load_sentiment_file(Path("/tmp/sent/fpb_train.jsonl"))
pick = g.permutation(len(sst))[:SST_N]
sent_items = []  # (ids, shapes, label, binary)
for texts, labels, binary, rep in ((
        [sst.texts[i] for i in pick], [sst.labels[i] for i in pick], True, 1),
        (fpb.texts, fpb.labels, False, 3)):
    for _ in range(rep):
        for t, lab in zip(texts, labels, strict=True):
            c = enc.chunk(t, max_chunks=1)[0]
            c.input_ids, c.offsets = c.input_ids[:128], c.offsets[:128]
            sent_items.append((c.input_ids, shape_ids(t, c.offsets), LABELS.index(lab), binary))
import re as _re  # noqa: E402

from workflowd.sentences import split_sentences  # noqa: E402

bbc_sents = []
for a in [json.loads(line) for line in open("/tmp/bbc/train.jsonl")][300:900]:
    for snt in split_sentences(a["text"]):
        if len(snt.text) > 20:
            c = enc.chunk(snt.text, max_chunks=1)[0]
            c.input_ids, c.offsets = c.input_ids[:128], c.offsets[:128]
            bbc_sents.append((c.input_ids, shape_ids(snt.text, c.offsets), -1, False))
bbc_sents = [bbc_sents[i] for i in g.permutation(len(bbc_sents))[:12000]]
sent_items += bbc_sents
bbc = [json.loads(line) for line in open("/tmp/bbc/train.jsonl")][:300]
bbc_wins = [w for a in bbc for w in windows(enc, a["text"] if "text" in a else a["article"], max_chunks=2)]
print(f"data: {len(ner_items)} ner windows, {len(sent_items)} sentences, {len(bbc_wins)} bbc windows "
      f"({time.time() - t0:.0f} s)", flush=True)


def batches():
    out = []
    for _ in range(NER_REPEAT):
        o = g.permutation(len(ner_items))
        out += [("ner", o[i:i + 8]) for i in range(0, len(o), 8)]
    lengths = np.array([len(s[0]) for s in sent_items])
    o = g.permutation(len(sent_items))
    for p in range(0, len(o), 1600):
        part = o[p:p + 1600]
        part = part[np.argsort(lengths[part], kind="stable")]
        out += [("sent", part[i:i + 32]) for i in range(0, len(part), 32)]
    o = g.permutation(len(bbc_wins))
    out += [("bbc", o[i:i + 8]) for i in range(0, len(o), 8)]
    return [out[i] for i in g.permutation(len(out))]


def pad(rows):
    n = max(len(r[0]) for r in rows)
    ids = torch.full((len(rows), n), enc.pad_id, dtype=torch.long)
    shapes = torch.zeros((len(rows), n), dtype=torch.long)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for i, (a, s) in enumerate(rows):
        ids[i, :len(a)] = torch.tensor(a)
        shapes[i, :len(a)] = torch.as_tensor(s)
        mask[i, :len(a)] = 1
    return ids, shapes, mask


def forward(ids, shapes, mask):
    embeds = student.get_input_embeddings()(ids) + tag_head.input_shapes(shapes)
    out = student(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True)
    with torch.no_grad():
        t = teacher(input_ids=ids, attention_mask=mask).last_hidden_state
    return out.hidden_states, t


def pooled_pairs(s, t, mask):
    """(student, teacher) vectors: whole-window means (specials in) and BLOCK-token means."""
    m = mask.unsqueeze(-1).float()
    ss, ts = [(s * m).sum(1) / m.sum(1)], [(t * m).sum(1) / m.sum(1)]
    n = mask.sum(1)
    inner = mask.clone()
    inner[:, 0] = 0
    inner[torch.arange(len(n)), n - 1] = 0
    for b in range(1, mask.shape[1] - 1, BLOCK):
        w = inner[:, b:b + BLOCK].unsqueeze(-1).float()
        keep = w.sum((1, 2)) > 0
        if not keep.any():
            continue
        ss.append(((s[:, b:b + BLOCK] * w).sum(1) / w.sum(1).clamp(min=1))[keep])
        ts.append(((t[:, b:b + BLOCK] * w).sum(1) / w.sum(1).clamp(min=1))[keep])
    return torch.cat(ss), torch.cat(ts)


GAMMA = float(sys.argv[6]) if len(sys.argv) > 6 else 0.05
LORA_LR = float(sys.argv[7]) if len(sys.argv) > 7 else 3e-4


def distill(s, t, mask):
    s = restore(s.detach() + GAMMA * (s - s.detach()))  # the encoder gets GAMMA of this gradient
    a, b = pooled_pairs(s, t, mask)
    pooled = (F.normalize(a, dim=-1) - F.normalize(b, dim=-1)).pow(2).sum(-1).mean()
    m = mask.bool()
    tok = (F.normalize(s[m], dim=-1) - F.normalize(t[m], dim=-1)).pow(2).sum(-1).mean()
    return pooled + TOKW * tok


def inner_mean(h, mask):
    n = mask.sum(1)
    inner = mask.clone()
    inner[:, 0] = 0
    inner[torch.arange(len(n)), n - 1] = 0
    w = inner.unsqueeze(-1).float()
    return (h * w).sum(1) / w.sum(1).clamp(min=1)


neutral = LABELS.index("neutral")


def loss_of(kind, idx):
    if kind == "ner":
        chosen = [ner_items[i] for i in idx]
        ids, shapes, mask = pad([(w.chunk.input_ids, w.shapes) for w, _ in chosen])
        hs, t = forward(ids, shapes, mask)
        logits = tag_head(hs[-1], shapes)
        with torch.no_grad():
            emb_t = tag_teacher.get_input_embeddings()(ids) + tag_teacher_head.input_shapes(shapes)
            soft = torch.softmax(tag_teacher_head(tag_teacher(inputs_embeds=emb_t, attention_mask=mask).last_hidden_state, shapes), -1)
        kd = -(soft * torch.log_softmax(logits, -1)).sum(-1)[mask.bool()].mean()
        y = torch.full(logits.shape[:2], IGNORE, dtype=torch.long)
        for r, (_w, lab) in enumerate(chosen):
            y[r, :len(lab)] = torch.from_numpy(lab)
        task = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE) + KD * kd
    elif kind == "sent":
        chosen = [sent_items[i] for i in idx]
        ids, shapes, mask = pad([(c[0], c[1]) for c in chosen])
        hs, t = forward(ids, shapes, mask)
        feats = torch.cat([inner_mean(hs[-2], mask), inner_mean(hs[-1], mask)], -1)
        logits = sent_head(feats)
        with torch.no_grad():
            ot = sent_teacher(input_ids=ids, attention_mask=mask).last_hidden_state
            mm = mask.unsqueeze(-1).float()
            soft = torch.softmax(sent_teacher_head((ot * mm).sum(1) / mm.sum(1)), -1)
        kd = -(soft * torch.log_softmax(logits, -1)).sum(-1).mean()
        labels_ = torch.tensor([c[2] for c in chosen])
        binmask = torch.tensor([c[3] for c in chosen])
        hard = labels_ >= 0
        logits = logits.clone()
        logits[binmask, neutral] = -1e4
        task = KD * kd
        if hard.any():
            task = task + F.cross_entropy(logits[hard], labels_[hard])
    else:
        chosen = [bbc_wins[i] for i in idx]
        ids, shapes, mask = pad([(w.chunk.input_ids, w.shapes) for w in chosen])
        hs, t = forward(ids, shapes, mask)
        logits = tag_head(hs[-1], shapes)
        with torch.no_grad():
            emb_t = tag_teacher.get_input_embeddings()(ids) + tag_teacher_head.input_shapes(shapes)
            soft = torch.softmax(tag_teacher_head(tag_teacher(inputs_embeds=emb_t, attention_mask=mask).last_hidden_state, shapes), -1)
        task = KD * -(soft * torch.log_softmax(logits, -1)).sum(-1)[mask.bool()].mean()
    d = distill(hs[-1], t, mask)
    return task, d


plan = batches()
steps = len(plan)
params = [
    {"params": [p for p in student.parameters() if p.requires_grad], "lr": LORA_LR, "weight_decay": 0.01},
    {"params": list(tag_head.parameters()), "lr": 5e-4, "weight_decay": 0.01},
    {"params": list(sent_head.parameters()), "lr": 2e-3, "weight_decay": 0.01},
    {"params": list(restore.parameters()), "lr": 1e-3, "weight_decay": 0.0},
]
opt = torch.optim.AdamW(params)
base_lrs = [p["lr"] for p in params]
warm = int(0.06 * steps)
student.train(), tag_head.train(), sent_head.train(), restore.train()
t0 = time.time()
run = {"ner": [], "sent": [], "bbc": [], "d": []}


def save(tag):
    folder = OUT / tag
    folder.mkdir(parents=True, exist_ok=True)
    student.save_pretrained(str(folder / "adapter2"))
    torch.save({"tag_head": tag_head.state_dict(), "sent_head": sent_head.state_dict(),
                "restore": restore.state_dict()}, folder / "heads.pt")


for k, (kind, idx) in enumerate(plan):
    f = (k + 1) / max(1, warm) if k < warm else max(0.0, (steps - k) / max(1, steps - warm))
    for grp, lr in zip(opt.param_groups, base_lrs, strict=True):
        grp["lr"] = lr * f
    task, d = loss_of(kind, idx)
    loss = task + LAMBDA * d
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for grp in params for p in grp["params"]], 1.0)
    opt.step()
    run[kind].append(float(task))
    run["d"].append(float(d))
    if (k + 1) % 100 == 0:
        el = time.time() - t0
        print(f"{k + 1}/{steps} {el:.0f}s eta {el / (k + 1) * (steps - k - 1):.0f}s "
              f"ner {np.mean(run['ner'][-30:]) if run['ner'] else 0:.3f} "
              f"sent {np.mean(run['sent'][-60:]) if run['sent'] else 0:.3f} d {np.mean(run['d'][-100:]):.4f}",
              flush=True)
    if k + 1 == steps // 2:
        save("half")
save("final")
print(f"done {time.time() - t0:.0f}s", flush=True)
