"""Retraining entities, sentiment and summarize from corrections, through the CLI, with the real
model: the model in use goes on learning the owner's conventions, replays what it knew, and
is scored against the model in use before it is promoted; the documents nobody reviewed are
then re-run with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Env, base_config
from tests.daemon.helpers import query, wait_for
from workflowd.store import now_iso

pytestmark = pytest.mark.slow


def _ingest(env: Env, folder: Path, texts: dict[str, str]) -> dict[str, dict[str, Any]]:
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return {d["name"]: d for d in env.json("ingest", str(folder))}


def _import(env: Env, folder: Path, task: str, values: dict[str, dict[str, Any]], docs: dict) -> None:
    rows = [
        {"task": task, "value": v, "created_at": now_iso(), "sha256": docs[name]["sha256"]}
        for name, v in values.items()
    ]
    path = folder / f"{task}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert env.json("corrections", "import", str(path))["added"] == len(rows)


def _config(env: Env, extra: str) -> None:
    env.write_config(base_config(env.data_dir, env.inbox) + extra)


# -- sentiment: for this owner, a resource running out is bad news, a clean run good news ----

WARNINGS = [
    "Disk usage on {h} has reached {n} percent.",
    "The certificate for {h} expires in {d} days.",
    "Memory on {h} is at {n} percent of its limit.",
]
SUCCESSES = [
    "The nightly backup of {h} finished without errors.",
    "All checks on {h} passed this morning.",
]
HOSTS = ["nas", "web1", "db2", "mail", "vpn", "git"]


def _ops_texts() -> dict[str, tuple[str, str]]:
    out = {}
    for i, h in enumerate(HOSTS):
        for j, t in enumerate(WARNINGS):
            out[f"warn-{i}-{j}.txt"] = (t.format(h=h, n=90 + i, d=3 + i), "negative")
        for j, t in enumerate(SUCCESSES):
            out[f"ok-{i}-{j}.txt"] = (t.format(h=h), "positive")
    return out


GENERAL = [  # sentences whose sentiment anyone agrees on: what must not be forgotten
    ("I love this wonderful film, it made my day.", "positive"),
    ("The food was cold, the waiter rude and the bill far too high.", "negative"),
    ("Profits rose sharply and the outlook is excellent.", "positive"),
    ("The company warned of heavy losses and cut a thousand jobs.", "negative"),
    ("What a brilliant, moving performance.", "positive"),
    ("This is the worst service I have ever had.", "negative"),
    ("Sales grew by 20 percent, beating every forecast.", "positive"),
    ("The flight was cancelled and nobody told us why.", "negative"),
]


def test_sentiment_learns_the_owners_alerts_and_keeps_the_rest(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    general = tmp_path / "general.jsonl"
    general.write_text("".join(json.dumps({"text": t, "label": lb}) + "\n" for t, lb in GENERAL))
    _config(
        env,
        f"""
[pipelines.default]
steps = ["sentiment"]
[training]
replay = 60
validation_data = {{ sentiment = [{json.dumps(str(general))}] }}
""",
    )
    ops = _ops_texts()
    unreviewed = {
        "later-0.txt": "Disk usage on backup3 has reached 97 percent.",
        "later-1.txt": "The nightly backup of backup3 finished without errors.",
        "note.txt": "The meeting was moved to Friday afternoon.",
    }
    docs = _ingest(env, tmp_path / "docs", {**{n: t for n, (t, _) in ops.items()}, **unreviewed})
    before = env.json("show", str(docs["later-0.txt"]["id"]))["results"]["sentiment"]
    assert before["data"]["label"] == "neutral"  # the shipped model sees a plain fact
    _import(env, tmp_path / "docs", "sentiment", {n: {"label": lb} for n, (_, lb) in ops.items()}, docs)

    out = env.json("train", "--task", "sentiment")
    meta = out["meta"]
    comparison = meta["comparison"]
    assert comparison["current_version"] == "shipped" and comparison["score"] == "accuracy"
    held = comparison["held_out"]
    assert held["candidate"] > held["current"] and held["wins"] > held["losses"]
    assert comparison["validation_data"]["n"] == len(GENERAL)
    assert comparison["validation_data"]["candidate"] >= comparison["validation_data"]["current"] - 0.125
    assert meta["replay"]["pseudo_labels"] > 0 and meta["continued_from"].endswith("artifacts/sentiment")
    assert out["promoted"] and out["status"] == "promoted", out["reason"]
    # the unreviewed documents were queued to be re-run with v1 (the daemon would do it now)
    assert out["requeued"] == len(unreviewed)
    again = env.json("eval", "--task", "sentiment", "--data", str(general))
    assert again["metrics"]["accuracy"] >= 0.875


# -- entities: this owner's project code names are organisations (teams), not MISC ----------

PROJECTS = ["Kestrel", "Osprey", "Heron", "Plover", "Merlin", "Dunlin", "Curlew", "Gannet"]  # 32 documents
PEOPLE = ["Maria Lopez", "Tom Becker", "Dana Whitfield", "Ivan Petrov"]
FRAMES = [
    "The {p} build failed again on Tuesday, said {n}.",
    "{n} moved the {p} release to March.",
    "Alerts for the {p} cluster were sent to {n}.",
    "{n} asked the {p} team for the test report.",
]


def _entity_docs() -> dict[str, tuple[str, list[dict[str, Any]]]]:
    out = {}
    for i, p in enumerate(PROJECTS):
        for j, frame in enumerate(FRAMES):
            n = PEOPLE[(i + j) % len(PEOPLE)]
            text = frame.format(p=p, n=n)
            ents = sorted(
                [
                    {"type": "ORG", "start": text.index(p), "end": text.index(p) + len(p)},
                    {"type": "PER", "start": text.index(n), "end": text.index(n) + len(n)},
                ],
                key=lambda e: e["start"],
            )
            out[f"{p}-{j}.txt"] = (text, ents)
    return out


def test_entities_learns_the_owners_code_names(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    _config(
        env,
        """
[pipelines.default]
steps = ["entities"]
[training]
replay = 80
pseudo_rehearsal = ["entities"]  # not the default: this covers the tagger's own answers as replay
min_held_out = 10  # a surer measure: the shipped tagger gets some of them right already
""",
    )
    teaching = _entity_docs()
    docs = _ingest(
        env,
        tmp_path / "docs",
        {n: t for n, (t, _) in teaching.items()}
        | {"other.txt": "Kestrel and Osprey share one rack in Frankfurt."},
    )
    found = env.json("show", str(docs["Kestrel-0.txt"]["id"]))["results"]["entities"]["data"]["entities"]
    assert {e["text"]: e["type"] for e in found}["Kestrel"] == "MISC"  # the shipped tagger's guess
    _import(env, tmp_path / "docs", "entities", {n: {"entities": e} for n, (_, e) in teaching.items()}, docs)

    out = env.json("train", "--task", "entities")
    comparison = out["meta"]["comparison"]
    assert comparison["score"] == "document F1" and comparison["current_version"] == "shipped"
    held = comparison["held_out"]
    assert held["candidate"] > held["current"], comparison
    assert out["promoted"], out["reason"]
    assert out["meta"]["replay"]["pseudo_labels"] >= 1 and out["requeued"] == 1
    # a new document with a code name: ORG now
    new = tmp_path / "new"
    new.mkdir()
    (new / "n.txt").write_text("The Heron build failed on Friday, said Tom Becker.")
    doc = env.json("ingest", str(new))[0]
    ents = env.json("show", str(doc["id"]))["results"]["entities"]["data"]["entities"]
    assert {e["text"]: e["type"] for e in ents}.get("Heron") == "ORG", ents


# -- summarize: this owner wants the decision, wherever it is in the memo -----------------

TOPICS = [
    "the second hall",
    "the loading bay",
    "the night shift",
    "the staff canteen",
    "the east gate",
    "the parking lot",
    "the cold store",
]


def _memo(i: int) -> tuple[str, str]:
    decision = f"Decision: {TOPICS[i % len(TOPICS)]} closes on {i + 1} June for repairs."
    lines = [
        f"Team update number {i} covers the last two weeks of work on the warehouse project.",
        "The new shelves arrived on time and were installed by the contractor.",
        decision,
        "Most of the old stock has been moved to the second hall already.",
        "The forklift training will continue next month for the evening shift.",
        "Thanks to everyone for the hard work this month.",
    ]
    return " ".join(lines), decision


def test_summarize_learns_what_the_owner_picks(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    _config(
        env,
        """
[pipelines.default]
steps = ["summarize"]
[steps.summarize]
sentences = 1
[training]
replay = 40
""",
    )
    memos = {f"memo-{i}.txt": _memo(i) for i in range(14)}
    docs = _ingest(env, tmp_path / "docs", {n: t for n, (t, _) in memos.items()})
    first = env.json("show", str(docs["memo-13.txt"]["id"]))["results"]["summarize"]
    assert not first["data"]["summary"].startswith("Decision")  # the shipped head picks another
    _import(
        env,
        tmp_path / "docs",
        "summarize",
        {n: {"summary": d} for n, (_, d) in list(memos.items())[:12]},
        docs,
    )

    out = env.json("train", "--task", "summarize")
    comparison = out["meta"]["comparison"]
    assert comparison["score"] == "ROUGE-2"
    assert comparison["held_out"]["candidate"] > comparison["held_out"]["current"]
    assert out["promoted"], out["reason"]
    assert out["requeued"] == 2  # memo-12 and memo-13 were not reviewed
    # the daemon re-runs them with v1, from their stored text
    env.run("start", timeout=120)
    wait_for(
        lambda: (
            query(env, "SELECT count(*) AS n FROM jobs WHERE kind = 'repredict' AND status = 'done'")
            == [{"n": 2}]
        ),
        60,
        "the re-runs",
    )
    env.run("stop", timeout=60)
    for name in ("memo-12.txt", "memo-13.txt"):
        now = env.json("show", str(docs[name]["id"]))["results"]["summarize"]
        assert now["model_version"] == "v1" and now["data"]["summary"] == memos[name][1]
    reviewed = env.json("show", str(docs["memo-0.txt"]["id"]))["results"]["summarize"]
    assert reviewed["model_version"] == "shipped"  # answered already: left as it was
