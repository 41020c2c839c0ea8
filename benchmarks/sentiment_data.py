"""Fixed held-out splits for the sentiment benchmark, written as JSONL ``{"text", "label"}``.

    python benchmarks/sentiment_data.py OUT_DIR

- SST-2: 5% of sst2/train.tsv held out (``sst2_heldout.jsonl``), the rest ``sst2_train.jsonl``;
- Financial PhraseBank: 20% of sentences_50agree.train.tsv held out (``fpb_heldout.jsonl``),
  the rest ``fpb_train.jsonl``; ``fpb_allagree_heldout.jsonl`` is the part of the held-out
  rows that all annotators agreed on (they are in sentences_allagree.train.tsv).

A row is held out when the sha256 of its text falls in the held-out fraction, so the split
does not depend on the order of the file or on a random seed, and duplicates of a sentence
always fall on the same side.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def held_out(text: str, fraction: float, salt: str) -> bool:
    h = hashlib.sha256(f"{salt}\0{text}".encode()).hexdigest()
    return int(h[:8], 16) / 0x100000000 < fraction


def write(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for text, label in rows:
            f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")


def main(out: Path, data: Path = DATA) -> int:
    from workflowd.sentiment import load_sentiment_file

    if not (data / "sst2" / "train.tsv").exists():
        print(f"no SST-2 data in {data}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    sst = load_sentiment_file(data / "sst2" / "train.tsv")
    rows = list(zip(sst.texts, sst.labels, strict=True))
    write(out / "sst2_train.jsonl", [r for r in rows if not held_out(r[0], 0.05, "sst2")])
    write(out / "sst2_heldout.jsonl", [r for r in rows if held_out(r[0], 0.05, "sst2")])
    fpb = load_sentiment_file(data / "financial_phrasebank" / "sentences_50agree.train.tsv")
    agree = set(load_sentiment_file(data / "financial_phrasebank" / "sentences_allagree.train.tsv").texts)
    rows = list(zip(fpb.texts, fpb.labels, strict=True))
    test = [r for r in rows if held_out(r[0], 0.2, "fpb")]
    write(out / "fpb_train.jsonl", [r for r in rows if not held_out(r[0], 0.2, "fpb")])
    write(out / "fpb_heldout.jsonl", test)
    write(out / "fpb_allagree_heldout.jsonl", [r for r in test if r[0] in agree])
    for f in sorted(out.glob("*.jsonl")):
        print(f"{f}: {sum(1 for _ in f.open())} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])) if len(sys.argv) == 2 else 2)
