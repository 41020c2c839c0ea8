"""Forgetting in entities and sentiment: does learning an owner's convention from corrections
cost what the shipped models knew?

    python benchmarks/forgetting_tasks.py [--replay 1000] [--tasks entities sentiment]

Each owner teaches one convention the shipped model does not follow (the same kind as
tests/test_retrain_tasks.py, more of it):
- entities: their project code names (Kestrel, Osprey, ...) are organisations (ORG), where
  the shipped tagger says MISC;
- sentiment: resource warnings ("Disk usage on nas has reached 93 percent.") are negative and
  clean runs positive, where the shipped model says neutral.

``workflowd train --task T`` (``retrain``) is run three ways, each in a fresh store:
- no replay (``replay = 0``): the corrections alone;
- pseudo-rehearsal (``pseudo_rehearsal``, for sentiment the default when no original data is
  named): the model in use's own answers on 300 BBC articles standing for the owner's other
  documents;
- replay of the original training data (``replay_data``: CoNLL-2003 train.txt; the SST-2 and
  PhraseBank training splits of benchmarks/sentiment_data.py).
The candidate is measured on the held-out corrections (the convention, against the shipped
model) and on public validation data it was never trained on (CoNLL-2003 valid.txt; the
SST-2 and PhraseBank held-out splits): the drop there is the forgetting. Candidates are
registered, not promoted, so each one is measured whatever the gate says.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bbc  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SENT = Path(tempfile.gettempdir()) / "sent"  # benchmarks/sentiment_data.py writes its splits here

PROJECTS = ["Kestrel", "Osprey", "Heron", "Plover", "Merlin", "Avocet", "Dunlin", "Shrike"]
PEOPLE = ["Maria Lopez", "Tom Becker", "Dana Whitfield", "Ivan Petrov", "Aiko Tanaka", "Luis Ortega"]
FRAMES = [
    "The {p} build failed again on Tuesday, said {n}.",
    "{n} moved the {p} release to March.",
    "Alerts for the {p} cluster were sent to {n}.",
    "{n} asked the {p} team for the test report.",
    "According to {n}, {p} will need two more servers.",
    "The {p} roadmap was presented by {n} in the weekly call.",
]
HOSTS = ["nas", "web1", "web2", "db1", "db2", "mail", "vpn", "git", "ci", "backup", "proxy", "dns",
         "ldap", "cache", "queue", "search", "files", "print", "wiki", "chat"]
WARNINGS = [
    "Disk usage on {h} has reached {n} percent.",
    "The certificate for {h} expires in {d} days.",
    "Memory on {h} is at {n} percent of its limit.",
]
SUCCESSES = [
    "The nightly backup of {h} finished without errors.",
    "All checks on {h} passed this morning.",
]


def entity_corrections() -> list[tuple[str, dict]]:
    out = []
    for i, p in enumerate(PROJECTS):
        for j, frame in enumerate(FRAMES):
            n = PEOPLE[(i + j) % len(PEOPLE)]
            text = frame.format(p=p, n=n)
            ents = [{"type": "ORG", "start": text.index(p), "end": text.index(p) + len(p)},
                    {"type": "PER", "start": text.index(n), "end": text.index(n) + len(n)}]
            out.append((text, {"entities": sorted(ents, key=lambda e: e["start"])}))
    return out


def sentiment_corrections() -> list[tuple[str, dict]]:
    out = []
    for i, h in enumerate(HOSTS):
        out += [(t.format(h=h, n=85 + i % 15, d=2 + i % 9), {"label": "negative"}) for t in WARNINGS]
        out += [(t.format(h=h), {"label": "positive"}) for t in SUCCESSES]
    return out


def settings_for(tmp: Path, replay: int, replay_data: dict, pseudo: list[str]) -> object:
    from workflowd.config import Settings

    return Settings(
        data_dir=tmp,
        training={"replay": replay, "replay_data": replay_data, "margin": 0.02, "pseudo_rehearsal": pseudo},
    )


def fill_store(settings: object, corrections: list[tuple[str, dict]], task: str, articles: list[str]) -> None:
    from workflowd.store import FoundFile, Store

    store = Store(settings.db_path)
    for text in articles:  # the owner's other documents, processed and never corrected
        sha = hashlib.sha256(text.encode()).hexdigest()
        doc_id, _ = store.documents.add(
            FoundFile(source="bench", path=f"/bench/{sha[:12]}.txt", name=f"{sha[:12]}.txt", sha256=sha,
                      size=len(text), media_type="text/plain"),
            pipeline="default", max_attempts=1,
        )
        with store.transaction() as conn:
            store.documents.set_extracted(doc_id, media_type="text/plain", title=None, text=text, meta={})
            conn.execute("UPDATE jobs SET status = 'done' WHERE document_id = ?", (doc_id,))
    for text, value in corrections:
        store.corrections.add(task, value, text=text, sha256=hashlib.sha256(text.encode()).hexdigest(),
                              author="benchmark", origin="benchmark")
    store.close()


def general_scores(task: str, settings: object, version: str | None) -> dict[str, float]:
    from workflowd.runtime import task as task_unit

    unit = task_unit(settings, task)
    files = {
        "entities": {"CoNLL valid F1": (DATA / "conll2003" / "valid.txt", "f1")},
        "sentiment": {"SST-2 held-out acc": (SENT / "sst2_heldout.jsonl", "accuracy"),
                      "PhraseBank held-out acc": (SENT / "fpb_heldout.jsonl", "accuracy")},
    }[task]
    return {name: unit.evaluate(path, version=version)["metrics"][key] for name, (path, key) in files.items()}


def main() -> int:
    from workflowd.training.retrain import retrain

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replay", type=int, default=1000)
    ap.add_argument("--tasks", nargs="+", default=["entities", "sentiment"])
    ap.add_argument("--variants", nargs="+", default=["no replay", "pseudo-rehearsal", "original data"])
    ap.add_argument("--anchor", type=float, help="L2-SP strength instead of the default")
    args = ap.parse_args()
    if not (DATA / "conll2003" / "valid.txt").exists():
        raise SystemExit(f"no ../shared/data at {DATA}")
    if "sentiment" in args.tasks and not (SENT / "sst2_heldout.jsonl").exists():
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sentiment_data.py"), str(SENT)], check=True)
    train_rows, _ = bbc.split(bbc.load())
    articles = [bbc.document(r) for r in train_rows[::5][:300]]
    original = {
        "entities": {"entities": [str(DATA / "conll2003" / "train.txt")]},
        "sentiment": {"sentiment": [str(SENT / "sst2_train.jsonl"), str(SENT / "fpb_train.jsonl")]},
    }
    teach = {"entities": entity_corrections, "sentiment": sentiment_corrections}
    results: dict = {}
    for task in args.tasks:
        corrections = teach[task]()
        base = settings_for(Path(tempfile.mkdtemp()), args.replay, {}, [])
        shipped = general_scores(task, base, None)
        results[task] = {"shipped": shipped, "corrections": len(corrections)}
        print(f"\n{task}: {len(corrections)} corrections; shipped model: {shipped}", flush=True)
        for name, replay, replay_data, docs in (
            ("no replay", 0, {}, []),
            ("pseudo-rehearsal", args.replay, {}, articles),
            ("original data", args.replay, original[task], []),
        ):
            if name not in args.variants:
                continue
            pseudo = [task] if name == "pseudo-rehearsal" else []
            settings = settings_for(Path(tempfile.mkdtemp()), replay, replay_data, pseudo)
            fill_store(settings, corrections, task, docs)
            t0 = time.perf_counter()
            from workflowd.runtime import task as task_unit

            unit = task_unit(settings, task)
            retrainer = unit.make_retrainer()
            if args.anchor is not None:
                retrainer.params.anchor = args.anchor
            r = retrain(settings, retrainer, promote=False)
            seconds = time.perf_counter() - t0
            general = general_scores(task, settings, r.version.version)
            held = r.comparison["held_out"]
            results[task][name] = {
                "held_out": held, "general": general, "seconds": round(seconds, 1),
                "gate": r.reason, "replay": r.version.meta.get("replay"),
            }
            drops = ", ".join(f"{k} {v:.4f} ({v - shipped[k]:+.4f})" for k, v in general.items())
            print(f"| {name} | held-out corrections {held['candidate']:.3f} (shipped {held['current']:.3f}, "
                  f"n={held['n']}) | {drops} | {seconds:.0f} s |", flush=True)
    bbc.save_results("forgetting_tasks", results)
    print(json.dumps({t: {k: v for k, v in r.items() if k != "shipped"} for t, r in results.items()},
                     indent=1, default=str)[:3000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
