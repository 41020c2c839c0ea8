"""Known-item search on held-out BBC News: full text (FTS5), meaning (embeddings) and hybrid.

The 446 articles of the evaluation part of the fixed split (benchmarks/bbc.py; no model was
trained on them) are stored as documents holding their body only, as a clipping without its
headline would be, and embedded by the bundled encoder. Each article is then looked for with
three kinds of query, the article it came from being the one right answer:

- title: its headline ("Market unfazed by Aurora setback"): a short paraphrase of the story,
  some of whose words are in the body and some not;
- paraphrase: the headline's words that do not occur in the body (at least two of them; the
  articles with fewer are left out): what a person remembers in other words than the text's;
- keywords: the article's three rarest words (by document frequency in the corpus): what
  full-text search is made for.

Nothing was tuned on these queries. The fusion was chosen on a development part, the first
446 articles of the training part (``--fusions`` prints the candidates there: reciprocal rank
fusion and convex combinations of normalised scores); its weight is the plain mean.
Prints MRR@10, recall@1 and recall@10 of each mode per query kind, and the time per query.

    python benchmarks/bbc.py /tmp/bbc && python benchmarks/search_bbc.py /tmp/bbc/eval.jsonl
    head -446 /tmp/bbc/train.jsonl > /tmp/bbc/dev.jsonl
    python benchmarks/search_bbc.py /tmp/bbc/dev.jsonl --fusions
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workflowd.config import ModelSettings
from workflowd.models.encoder import Encoder
from workflowd.search import MODES, nearest, search
from workflowd.store import FoundFile, Store

WORD = re.compile(r"[a-z]+")
STOP = frozenset(
    ["a", "an", "the", "of", "in", "on", "at", "to", "for", "from", "by", "with", "and", "or", "but", "is", "are", "was", "were", "be", "been", "it", "its", "as", "that", "this", "these", "those", "he", "she", "they", "we", "you", "i", "his", "her", "their", "our", "not", "no", "s", "t", "up", "out", "over", "after", "into", "than", "then", "says", "say", "said", "will", "would", "could", "should", "has", "have", "had", "do", "does", "did", "new"]
)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def queries(rows: list[dict]) -> dict[str, list[tuple[str, int]]]:
    df = Counter(w for r in rows for w in set(words(r["text"])))
    out: dict[str, list[tuple[str, int]]] = {"title": [], "paraphrase": [], "keywords": []}
    for i, r in enumerate(rows):
        body = set(words(r["text"]))
        out["title"].append((r["title"], i))
        novel = [w for w in words(r["title"]) if w not in body and w not in STOP]
        if len(novel) >= 2:
            out["paraphrase"].append((" ".join(novel), i))
        rare = sorted((w for w in body if len(w) > 3 and w not in STOP), key=lambda w: (df[w], w))[:3]
        out["keywords"].append((" ".join(rare), i))
    return out


def rrf(text: list, meaning: list, k: int = 60) -> list[int]:
    score: dict[int, float] = {}
    for r, (i, *_rest) in enumerate(text, 1):
        score[i] = score.get(i, 0) + 1 / (k + r)
    for r, (i, _s) in enumerate(meaning, 1):
        score[i] = score.get(i, 0) + 1 / (k + r)
    return sorted(score, key=lambda i: -score[i])


def convex(text: list, meaning: list, weight: float) -> list[int]:
    score: dict[int, float] = {}
    for part, w in ((text, weight), (meaning, 1 - weight)):
        if not part:
            continue
        values = [p[1] for p in part]
        lo, hi = min(values), max(values)
        for p in part:
            score[p[0]] = score.get(p[0], 0) + w * ((p[1] - lo) / (hi - lo) if hi > lo else 1.0)
    return sorted(score, key=lambda i: -score[i])


def compare_fusions(store: Store, encoder: Encoder, rows: list[dict], ids: list[int]) -> None:
    """MRR@10 of fusion candidates (run on a development part, not on the held-out one)."""
    fusions = {"rrf k=60": rrf, **{f"convex {w}": partial(convex, weight=w) for w in (0.3, 0.4, 0.5, 0.6, 0.7)}}
    scores: dict[str, dict[str, float]] = {name: {} for name in fusions}
    for kind, qs in queries(rows).items():
        vectors = encoder.encode_texts([q for q, _ in qs])
        sums = dict.fromkeys(fusions, 0.0)
        for (q, i), v in zip(qs, vectors, strict=True):
            text = store.fulltext.search(q, limit=100)
            meaning = nearest(store, v, encoder.name, limit=100)
            for name, fuse in fusions.items():
                top = fuse(text, meaning)[:10]
                sums[name] += 1 / (top.index(ids[i]) + 1) if ids[i] in top else 0.0
        for name in fusions:
            scores[name][kind] = sums[name] / len(qs)
    for name, by_kind in scores.items():
        mean = sum(by_kind.values()) / len(by_kind)
        print(f"{name:<11} " + " ".join(f"{k} {v:.4f}" for k, v in by_kind.items()) + f"  mean {mean:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eval_jsonl", type=Path, help="eval.jsonl written by benchmarks/bbc.py")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--fusions", action="store_true", help="compare fusion candidates (on a development part)")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.eval_jsonl.open(encoding="utf-8")]
    encoder = Encoder(ModelSettings(threads=args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "wf.db")
        ids = []
        for i, r in enumerate(rows):
            doc_id, _ = store.documents.add(
                FoundFile(source="bbc", path=f"/bbc/{i}.txt", name=f"{i}.txt", sha256=f"bbc-{i}", size=len(r["text"])),
                pipeline="default", max_attempts=1,
            )
            store.documents.set_extracted(doc_id, media_type="text/plain", title=None, text=r["text"], meta={})
            ids.append(doc_id)
        t0 = time.perf_counter()
        for start in range(0, len(rows), 32):
            part = encoder.encode_documents([r["text"] for r in rows[start : start + 32]])
            for k, enc in enumerate(part):
                store.embeddings.save(ids[start + k], encoder.name, enc.embedding)
        embed_s = time.perf_counter() - t0
        if args.fusions:
            compare_fusions(store, encoder, rows, ids)
            store.close()
            return
        results: dict[str, dict[str, dict[str, float]]] = {}
        for kind, qs in queries(rows).items():
            vectors = encoder.encode_texts([q for q, _ in qs])
            results[kind] = {}
            for mode in MODES:
                rr, r1, r10, t = 0.0, 0, 0, 0.0
                for (q, i), v in zip(qs, vectors, strict=True):
                    t0 = time.perf_counter()
                    hits = search(store, q, encode=lambda _q, v=v: v, encoder_name=encoder.name, mode=mode, limit=10)
                    t += time.perf_counter() - t0
                    found = [h.id for h in hits]
                    if ids[i] in found:
                        rank = found.index(ids[i]) + 1
                        rr += 1 / rank
                        r1 += rank == 1
                        r10 += 1
                n = len(qs)
                results[kind][mode] = {"n": n, "mrr@10": rr / n, "recall@1": r1 / n, "recall@10": r10 / n,
                                       "ms_per_query": 1000 * t / n}
        store.close()
    print(f"{len(rows)} held-out BBC articles (bodies), embedded in {embed_s:.1f} s; "
          "query encoding not included in ms/query")
    print(f"{'queries':<11} {'n':>4} {'mode':<9} {'MRR@10':>7} {'R@1':>6} {'R@10':>6} {'ms/query':>9}")
    for kind, by_mode in results.items():
        for mode, m in by_mode.items():
            print(f"{kind:<11} {m['n']:>4} {mode:<9} {m['mrr@10']:>7.4f} {m['recall@1']:>6.3f} "
                  f"{m['recall@10']:>6.3f} {m['ms_per_query']:>9.1f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
