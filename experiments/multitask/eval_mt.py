"""Evaluate a multi-task checkpoint: CoNLL valid F1, sentiment held-out, embedding fidelity and
zero-shot BBC (argmax cosine to descriptions, student vs teacher, same code)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from peft import PeftModel

sys.path.insert(0, "benchmarks")
from bbc import DESCRIPTIONS  # noqa: E402

from workflowd.config import ModelSettings  # noqa: E402
from workflowd.models.encoder import Encoder  # noqa: E402
from workflowd.ner.bio import tag_names  # noqa: E402
from workflowd.ner.conll import TYPES, read_conll  # noqa: E402
from workflowd.ner.shapes import shape_ids  # noqa: E402
from workflowd.ner.tagger import Tagger, TaggerHead, with_shape_types  # noqa: E402
from workflowd.sentiment.data import LABELS, load_sentiment_file  # noqa: E402
from workflowd.training.entities import evaluate_docs, prepare  # noqa: E402
from workflowd.training.metrics import classification_metrics  # noqa: E402

CK = Path(sys.argv[1])
what = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else {"ner", "sent", "emb"}
enc = Encoder(ModelSettings(threads=int(sys.argv[3]) if len(sys.argv) > 3 else 2))
import copy  # noqa: E402

if (CK / "adapter2").exists():
    _b = PeftModel.from_pretrained(copy.deepcopy(enc.model), "workflowd/artifacts/entities/adapter").merge_and_unload()
    student = PeftModel.from_pretrained(_b, str(CK / "adapter2")).merge_and_unload().eval()
else:
    student = PeftModel.from_pretrained(copy.deepcopy(enc.model), str(CK / "adapter")).merge_and_unload().eval()
heads = torch.load(CK / "heads.pt")
tags = tag_names(TYPES)
tag_head = TaggerHead(enc.dim, len(tags))
tag_head.load_state_dict(heads["tag_head"])
tag_head.eval()
sent_head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(2 * enc.dim, len(LABELS)))
sent_head.load_state_dict(heads["sent_head"])
sent_head.eval()
folded = with_shape_types(student, tag_head)
restore = None
if "restore" in heads:
    sys.path.insert(0, "/work/mt")
    import torch.nn.functional as F  # noqa: E402

    class Restore(torch.nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.up = torch.nn.Linear(dim, hidden)
            self.down = torch.nn.Linear(hidden, dim)

        def forward(self, h):
            return h + self.down(F.gelu(self.up(h)))

    restore = Restore(enc.dim, heads["restore"]["up.weight"].shape[0])
    restore.load_state_dict(heads["restore"])
    restore.eval()
res = {}


@torch.inference_mode()
def run(model, texts, typed, bs=32, max_chunks=1, layers=False, fix=None):
    """per text: list of (hidden states tuple per window) -> we return pooled things"""
    items = []
    for i, t in enumerate(texts):
        for c in enc.chunk(t, max_chunks=max_chunks):
            items.append((i, c.input_ids, shape_ids(t, c.offsets) if typed else np.zeros(len(c.input_ids), int)))
    order = sorted(range(len(items)), key=lambda k: len(items[k][1]))
    full = [None] * len(items)
    l5 = [None] * len(items)
    l6 = [None] * len(items)
    for b in range(0, len(order), bs):
        idx = order[b:b + bs]
        n = max(len(items[k][1]) for k in idx)
        ids = torch.full((len(idx), n), enc.pad_id)
        ty = torch.zeros((len(idx), n), dtype=torch.long)
        mask = torch.zeros((len(idx), n), dtype=torch.long)
        for r, k in enumerate(idx):
            m = len(items[k][1])
            ids[r, :m] = torch.tensor(items[k][1])
            ty[r, :m] = torch.as_tensor(items[k][2])
            mask[r, :m] = 1
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=ty, output_hidden_states=layers)
        h = out.last_hidden_state
        hp = fix(h) if fix is not None else h
        mm = mask.unsqueeze(-1).float()
        pooled = (hp * mm).sum(1) / mm.sum(1)
        inner = mask.clone()
        inner[:, 0] = 0
        inner[torch.arange(len(idx)), mask.sum(1) - 1] = 0
        w = inner.unsqueeze(-1).float()
        for r, k in enumerate(idx):
            full[k] = (pooled[r].numpy(), len(items[k][1]))
            if layers:
                l5[k] = ((out.hidden_states[-2][r] * w[r]).sum(0) / w[r].sum().clamp(min=1)).numpy()
                l6[k] = ((h[r] * w[r]).sum(0) / w[r].sum().clamp(min=1)).numpy()
    docs = []
    for i in range(len(texts)):
        rows = [k for k in range(len(items)) if items[k][0] == i] if max_chunks > 1 else [i]
        v = sum(full[k][0] / np.linalg.norm(full[k][0]) * full[k][1] for k in rows)
        docs.append(v / np.linalg.norm(v))
    return np.array(docs), (np.array(l5), np.array(l6)) if layers else None


t0 = time.time()
if "ner" in what:
    val = prepare(enc, read_conll(Path("../shared/data/conll2003/valid.txt")), tags)
    tagger = Tagger(enc, student, tag_head, tags)
    m = evaluate_docs(tagger, val)
    res["conll_valid_f1"] = round(m["f1"], 4)
    print("conll", res["conll_valid_f1"], f"{time.time() - t0:.0f}s", flush=True)

if "sent" in what:
    for name in ("sst2_heldout", "fpb_heldout", "fpb_allagree_heldout"):
        data = load_sentiment_file(Path(f"/tmp/sent/{name}.jsonl"))
        _, (a, b) = run(folded, data.texts, True, layers=True)
        with torch.no_grad():
            logits = sent_head(torch.from_numpy(np.concatenate([a, b], -1)))
        if data.binary:
            logits = logits.clone()
            logits[:, LABELS.index("neutral")] = -1e4
        pred = [LABELS[i] for i in logits.argmax(-1).tolist()]
        res[name] = round(classification_metrics(data.labels, pred)["accuracy"], 4)
        print(name, res[name], f"{time.time() - t0:.0f}s", flush=True)

if "emb" in what:
    arts = [json.loads(line) for line in open("/tmp/bbc/eval.jsonl")]
    texts = [a["text"] for a in arts]
    cats = list(DESCRIPTIONS)
    for who, model, typed, fix in (("student", folded, True, restore), ("teacher", enc.model, False, None)):
        d, _ = run(model, texts, typed, max_chunks=8, fix=fix)
        q, _ = run(model, [DESCRIPTIONS[c] for c in cats], typed, fix=fix)
        pred = [cats[i] for i in (d @ q.T).argmax(1)]
        met = classification_metrics([a["category"] for a in arts], pred)
        res[f"zeroshot_{who}"] = round(met["macro_f1"], 4)
        res[f"docs_{who}"] = d
        print(who, res[f"zeroshot_{who}"], f"{time.time() - t0:.0f}s", flush=True)
    cos = (res.pop("docs_student") * res.pop("docs_teacher")).sum(1)
    res["doc_cos_mean"], res["doc_cos_min"] = round(float(cos.mean()), 4), round(float(cos.min()), 4)
print(json.dumps(res))
(CK / "eval.json").write_text(json.dumps(res, indent=2))
