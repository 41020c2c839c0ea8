"""The fixed BBC News split used by the classification benchmark.

Articles are keyed by the sha256 of their whitespace-normalised body, so that the corpus's
repeated stories always fall on the same side; within each category they are ordered by
sha256("workflowd-bbc-v1:" + key) and the first quarter is the evaluation part (446 of
1780 articles). No randomness: the split is the same on every machine.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bbc_news_summary" / "train.jsonl"
EVAL_SHARE = 0.25
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# One-line descriptions of the five categories, for zero-shot classification.
DESCRIPTIONS = {
    "business": "business, the economy, companies, markets and finance",
    "entertainment": "entertainment: films, music, television, celebrities and the arts",
    "politics": "politics: the government, elections, parliament and political parties",
    "sport": "sport: football, tennis, athletics, matches and players",
    "tech": "technology: computers, the internet, software, mobile phones and gadgets",
}


def save_results(name: str, results: object) -> Path:
    """Write a benchmark's results to benchmarks/results/NAME.json (not committed)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def load(path: Path = DATA) -> list[dict]:
    if not path.exists():
        raise SystemExit(f"BBC data not found at {path} (../shared/data beside the repository)")
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def document(row: dict) -> str:
    """The article as a user's file would hold it: the title line, then the body."""
    return f"{row['title']}\n\n{row['text']}"


def _key(row: dict) -> str:
    return hashlib.sha256(" ".join(row["text"].split()).encode()).hexdigest()


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(train, eval), fixed."""
    by_cat: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_cat[row["category"]][_key(row)].append(row)
    train, evaluation = [], []
    for cat in sorted(by_cat):
        keys = sorted(by_cat[cat], key=lambda k: hashlib.sha256(f"workflowd-bbc-v1:{k}".encode()).hexdigest())
        n_eval = round(EVAL_SHARE * sum(len(by_cat[cat][k]) for k in keys))
        taken = 0
        for k in keys:
            group = by_cat[cat][k]
            if taken < n_eval:
                evaluation += group
                taken += len(group)
            else:
                train += group
    return train, evaluation


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Write the fixed BBC split as JSONL files (train.jsonl, eval.jsonl).")
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    train, evaluation = split(load())
    for name, part in (("train", train), ("eval", evaluation)):
        with (args.folder / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in part:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{args.folder / name}.jsonl: {len(part)} articles")
