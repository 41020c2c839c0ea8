"""Entity tagger on CoNLL-2003: train on train.txt, choose the epoch on valid.txt, report
entity-level precision/recall/F1 (seqeval) per type, and the passes and docs/s of the step.

    python benchmarks/entities_conll.py [--epochs 4] [--no-shapes] [--save DIR]

Needs ../shared/data/conll2003. The numbers in benchmarks/README.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"


def main() -> int:
    from workflowd.config import ModelSettings
    from workflowd.models.encoder import Encoder
    from workflowd.ner.conll import read_conll
    from workflowd.training.entities import EntityParams, train_tagger

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--no-shapes", action="store_true")
    ap.add_argument("--train-docs", type=int, default=0, help="use only the first N training documents")
    ap.add_argument("--save", type=Path, help="save the tagger (adapter, head, meta) here")
    args = ap.parse_args()
    if not (args.data / "train.txt").exists():
        print(f"no CoNLL-2003 data in {args.data}", file=sys.stderr)
        return 2
    train = read_conll(args.data / "train.txt")
    valid = read_conll(args.data / "valid.txt")
    if args.train_docs:
        train = train[: args.train_docs]
    encoder = Encoder(ModelSettings())
    params = EntityParams(
        epochs=args.epochs,
        lr=args.lr,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        shapes=not args.no_shapes,
    )

    def report(r) -> None:  # noqa: ANN001
        print(
            f"epoch {r.epoch}/{r.epochs}  loss {r.train_loss:.4f}  valid F1 {r.val_macro_f1:.4f}  "
            f"{r.seconds:.0f} s",
            flush=True,
        )

    out = train_tagger(encoder, train, valid, params, report)
    m = out.metrics
    print(
        f"\nvalid.txt (best epoch {out.meta['best_epoch']}): P {m['precision']:.4f}  R {m['recall']:.4f}  "
        f"F1 {m['f1']:.4f}   training {out.meta['train_seconds']:.0f} s"
    )
    print("| type | precision | recall | F1 | support |\n|---|---|---|---|---|")
    for t, v in m["per_type"].items():
        print(f"| {t} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | {v['support']} |")
    if args.save:
        out.tagger.save(args.save, out.adapter_model, {**out.meta, "metrics": m, "history": out.history})
        print(f"saved to {args.save}")
    # Speed: the tagger's pass against one raw pass of the shared encoder, same texts.
    texts = [d.text_and_spans()[0] for d in valid[:100]]
    t0 = time.perf_counter()
    encoder.encode_documents(texts)
    raw = time.perf_counter() - t0
    t0 = time.perf_counter()
    out.tagger.predict(texts)
    tagged = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "docs": len(texts),
                "raw_encoder_docs_per_s": round(len(texts) / raw, 2),
                "tagger_docs_per_s": round(len(texts) / tagged, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
