"""Write a multi-task checkpoint as workflowd's shipped artifacts (issue 14).

    python experiments/multitask/export.py CHECKPOINT [ARTIFACTS]

CHECKPOINT holds ``adapter2/`` (the multi-task LoRA, trained over the bundled encoder with the
shipped CoNLL tagger's adapter merged in) and ``heads.pt`` (tagger head, sentiment head,
restoration network), as ``train_mt4.py`` / ``train_mt5.py`` write them. ARTIFACTS (default
``workflowd/artifacts``) must still hold the original tagger's ``entities/adapter``, which
becomes ``encoder/adapter1``: the encoder merges ``adapter1`` then ``adapter2``.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

CK = Path(sys.argv[1])
ART = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("workflowd/artifacts")
heads = torch.load(CK / "heads.pt")
tag = {k: v.detach().clone().contiguous() for k, v in heads["tag_head"].items()}
shapes = tag["input_shapes.weight"].clone()  # word shapes: now the encoder's token types
tag["input_shapes.weight"].zero_()

enc = ART / "encoder"
first = ART / "entities" / "adapter"
if not first.is_dir():
    sys.exit(f"{first} not found: the original tagger's adapter is the multi-task encoder's first one")
if enc.exists():
    shutil.rmtree(enc)
enc.mkdir(parents=True)
shutil.copytree(first, enc / "adapter1")
shutil.copytree(CK / "adapter2", enc / "adapter2")
for junk in enc.glob("adapter*/README.md"):
    junk.unlink()
extra = {"input_shapes": shapes.contiguous()}
extra.update({f"restore.{k}": v.detach().contiguous() for k, v in heads["restore"].items()})
save_file(extra, str(enc / "extra.safetensors"))
evals = json.loads((CK / "eval.json").read_text()) if (CK / "eval.json").is_file() else {}
(enc / "meta.json").write_text(json.dumps({"name": "multitask-v1", "base": "bundled", "eval": evals}, indent=2) + "\n")

ent = ART / "entities"
old = json.loads((ent / "meta.json").read_text())
shutil.rmtree(ent / "adapter")
save_file(tag, str(ent / "head.safetensors"))
(ent / "meta.json").write_text(json.dumps({"method": "multitask", "shared": True, "types": old["types"],
                                           "tags": old["tags"], "previous": {"method": old["method"],
                                                                            "metrics": old.get("metrics")}},
                                          indent=2) + "\n")

sen = ART / "sentiment"
old = json.loads((sen / "meta.json").read_text())
shutil.rmtree(sen / "adapter", ignore_errors=True)
sh = heads["sent_head"]
save_file({"out.weight": sh["1.weight"].contiguous(), "out.bias": sh["1.bias"].contiguous()},
          str(sen / "head.safetensors"))
(sen / "meta.json").write_text(json.dumps({"method": "multitask", "shared": True, "pool": "layers",
                                           "labels": ["negative", "neutral", "positive"],
                                           "previous": {"method": old.get("method"), "metrics": old.get("metrics")}},
                                          indent=2) + "\n")
# 16 bits on disk (loaded into fp32): half the size, the same answers (see encoder/MODEL_CARD.md)
for path in [*enc.glob("adapter*/adapter_model.safetensors"), enc / "extra.safetensors"]:
    from safetensors.torch import load_file

    state = load_file(str(path))
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}, str(path))
print("written", ART)
