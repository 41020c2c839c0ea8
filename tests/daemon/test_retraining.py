"""The daemon retrains from corrections by itself: a new label learnt and used without a
restart; a killed training process changes nothing."""

from __future__ import annotations

import json
import os
import re
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import Env, base_config
from tests.daemon.helpers import all_settled, query, wait_for
from tests.training.test_classify import TOPIC_LABELS, TOPICS

pytestmark = pytest.mark.slow

CONFIG = (
    TOPIC_LABELS
    + """
[training]
schedule = ""
min_new_corrections = 12
nice = 5
"""
)
# the owner files food under a label of their own, one the descriptions do not know
OWNER = {"sport": "sport", "money": "money", "food": "cooking"}


def _start(env: Env) -> None:
    text = base_config(env.data_dir, env.inbox).replace("rescan_interval = 3600", "rescan_interval = 1")
    env.write_config(text + CONFIG)
    env.run("start", timeout=120)


# dropped beside them and never corrected: re-run after a promotion
UNREVIEWED = {
    "soup.txt": "Simmer the onions and carrots in stock, then blend the soup and season it with pepper.",
    "cake.txt": "Cream the butter and sugar, fold in the flour and bake the cake for half an hour.",
}


def _drop_and_correct(env: Env, tmp_path: Path, unreviewed: dict[str, str] | None = None) -> None:
    names = {}
    for label, texts in TOPICS.items():
        for i, t in enumerate(texts):
            (env.inbox / f"{label}{i}.txt").write_text(t, encoding="utf-8")
            names[f"{label}{i}.txt"] = label
    for name, text in (unreviewed or {}).items():
        (env.inbox / name).write_text(text, encoding="utf-8")
    wait_for(lambda: all_settled(env, len(names) + len(unreviewed or {})), 120, "the documents to be processed")
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    rows = [
        {
            "task": "classify",
            "value": {"label": OWNER[names[d["name"]]]},
            "created_at": now,
            "sha256": d["sha256"],
            "text": "",
        }
        for d in env.json("list")
        if d["name"] in names
    ]
    teaching = tmp_path / "teaching.jsonl"
    teaching.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert env.json("corrections", "import", str(teaching)) == {"added": 18, "skipped": 0}
    assert {r["document_id"] is not None for r in env.json("corrections", "list")} == {True}


def _log(env: Env) -> str:
    return (env.data_dir / "logs" / "workflowd.log").read_text()


def test_daemon_retrains_promotes_and_uses_the_new_label(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    _start(env)
    _drop_and_correct(env, tmp_path, UNREVIEWED)
    docs = {d["name"]: d["id"] for d in env.json("list")}
    before = {n: env.json("show", str(docs[n]))["results"]["classify"] for n in UNREVIEWED}
    assert {r["model_version"] for r in before.values()} == {"zero-shot"}
    assert "cooking" not in {r["data"]["best_guess"] for r in before.values()}  # no such description

    wait_for(lambda: "classify: v1 promoted" in _log(env), 240, "the retrained model to be promoted")
    assert re.search(
        r"retraining classify \(18 new corrections\): training process \d+ started at nice 5", _log(env)
    )
    # the documents nobody reviewed are re-run with v1 from their stored text; the corrected are not
    assert "re-running classify on 2 document(s) not yet reviewed" in _log(env)
    wait_for(
        lambda: all(env.json("show", str(docs[n]))["results"]["classify"]["model_version"] == "v1" for n in UNREVIEWED),
        60,
        "the unreviewed documents to be re-run",
    )
    for name in UNREVIEWED:
        assert env.json("show", str(docs[name]))["results"]["classify"]["data"]["best_guess"] == "cooking", name
    corrected = env.json("show", str(docs["food0.txt"]))["results"]["classify"]
    assert corrected["model_version"] == "zero-shot"

    (env.inbox / "new.txt").write_text("Knead the dough, let it rise and bake the bread for forty minutes.")
    wait_for(lambda: all_settled(env, 21), 60, "the new document")
    new = next(d for d in env.json("list") if d["name"] == "new.txt")
    result = env.json("show", str(new["id"]))["results"]["classify"]
    assert result["model_version"] == "v1" and result["data"]["best_guess"] == "cooking"
    assert env.json("status")["running"]  # no restart was needed


def test_killed_training_process_leaves_the_model_in_use(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    _start(env)
    _drop_and_correct(env, tmp_path)
    started = wait_for(
        lambda: re.search(r"training process (\d+) started", _log(env)), 60, "training to start"
    )
    pid = int(started.group(1))
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: "retraining classify failed (exit -9); the model in use is unchanged" in _log(env),
        60,
        "the daemon to notice",
    )
    assert query(env, "SELECT * FROM model_versions") == []
    (env.inbox / "new.txt").write_text("The goalkeeper saved a penalty in the second half.")
    wait_for(lambda: all_settled(env, 19), 60, "the new document")
    new = next(d for d in env.json("list") if d["name"] == "new.txt")
    assert env.json("show", str(new["id"]))["results"]["classify"]["model_version"] == "zero-shot"
    assert env.json("status")["running"]


def test_daemon_retrains_every_task_that_is_due_one_at_a_time(wf_env: Env, tmp_path: Path) -> None:
    from tests.test_retrain_tasks import _memo

    env = wf_env
    text = base_config(env.data_dir, env.inbox).replace("rescan_interval = 3600", "rescan_interval = 1")
    env.write_config(text + """
[pipelines.default]
steps = ["summarize", "sentiment"]
[steps.summarize]
sentences = 1
[training]
schedule = ""
min_new_corrections = 8
replay = 40
""")
    env.run("start", timeout=120)
    memos = {f"memo-{i}.txt": _memo(i) for i in range(12)}
    for name, (body, _) in memos.items():
        (env.inbox / name).write_text(body, encoding="utf-8")
    wait_for(lambda: all_settled(env, len(memos)), 120, "the memos to be processed")
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    rows = []
    for i, d in enumerate(sorted(env.json("list"), key=lambda d: d["name"])):
        rows.append({"task": "summarize", "value": {"summary": memos[d["name"]][1]}, "created_at": now,
                     "sha256": d["sha256"]})
        rows.append({"task": "sentiment", "value": {"label": "negative" if i % 2 else "neutral"},
                     "created_at": now, "sha256": d["sha256"]})
    teaching = tmp_path / "teaching.jsonl"
    teaching.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert env.json("corrections", "import", str(teaching)) == {"added": 24, "skipped": 0}
    wait_for(
        lambda: all(re.search(rf"retraining {t}: v1 (promoted|not promoted)", _log(env)) for t in ("summarize",
                                                                                                "sentiment")),
        240,
        "both tasks to be retrained",
    )
    log = _log(env)
    first, second = sorted(
        ("summarize", "sentiment"), key=lambda t: log.index(f"retraining {t} (12 new corrections)")
    )
    assert re.search(rf"retraining {second} \(12 new corrections\) waits for the training process \d+", log)
    # the second started only after the first had finished
    assert log.index(f"retraining {first}: v1") < log.index(f"retraining {second} (12 new corrections): training")
    assert {v["task"] for v in env.json("models", "list")} == {"summarize", "sentiment"}
    assert env.json("status")["running"]


# -- corrections only add knowledge: a few answers of new labels never wipe the others ------

README_INVOICE = "Invoice 42 from Acme Corp in Berlin: 120 EUR, due 1 March 2027. Thanks, Anna Schmidt"
OTHERS = {  # documents of the described labels nobody corrects: their labels must stay
    "invoice.txt": README_INVOICE,
    "receipt.txt": "Thank you for your order! Your payment of 39.99 EUR was received. Receipt number 55821.",
    "flight.txt": "Your booking is confirmed: flight LH 402 from Frankfurt to New York on 3 March, seat 22A, "
    "boarding pass attached.",
    "doctor.txt": "Dear patient, your blood test results from Dr. Weber's practice are normal. Please book a "
    "follow-up appointment in six months.",
    "tax.txt": "Your tax assessment for 2025 from the tax office: a refund of 412 EUR will be paid to your account.",
}
TAUGHT = {  # 8 corrections of 2 labels the descriptions do not have
    "film.txt": ("The new Marvel film opens this weekend in cinemas, with a soundtrack by Hans Zimmer.", "entertainment"),
    "concert.txt": ("Tickets for the Coldplay concert at Wembley go on sale Friday; the band plays the new album.",
                    "entertainment"),
    "series.txt": ("The Netflix series returns for a third season, and critics say the actors were never better.",
                   "Entertainment"),  # typed with other capitals: the same label
    "theatre.txt": ("Last night's theatre premiere of Hamlet drew a standing ovation for the lead actor.",
                    "entertainment"),
    "grammy.txt": ("The singer won three Grammy awards for her latest record and announced a world tour.",
                   "entertainment"),
    "election.txt": ("The prime minister called an early election after parliament rejected the budget.", "politics"),
    "senate.txt": ("The senate passed the bill on immigration reform after a long debate between the parties.",
                   "politics"),
    "minister.txt": ("The foreign minister resigned after the coalition partners voted against the treaty.",
                     "politics"),
}


def test_eight_corrections_of_two_labels_keep_every_other_label(wf_env: Env) -> None:
    env = wf_env
    text = base_config(env.data_dir, env.inbox).replace("rescan_interval = 3600", "rescan_interval = 1")
    env.write_config(text + """
[pipelines.default]
steps = ["classify"]
[training]
schedule = ""
min_new_corrections = 8
""")  # the default labels: invoice, receipt, bank, tax, insurance, contract, medical, travel, ...
    env.run("start", timeout=120)
    for name, body in {**OTHERS, **{n: t for n, (t, _) in TAUGHT.items()}}.items():
        (env.inbox / name).write_text(body, encoding="utf-8")
    wait_for(lambda: all_settled(env, len(OTHERS) + len(TAUGHT)), 120, "the documents to be processed")
    docs = {d["name"]: d["id"] for d in env.json("list")}
    before = {n: env.json("show", str(docs[n]))["results"]["classify"]["data"] for n in OTHERS}
    assert before["invoice.txt"]["label"] == "invoice"
    for name, (_, label) in TAUGHT.items():
        env.run("correct", str(docs[name]), "--task", "classify", "--label", label)
    assert {c["value"]["label"] for c in env.json("corrections", "list")} == {"entertainment", "politics"}

    wait_for(lambda: re.search(r"retraining classify: v1 (promoted|not promoted)", _log(env)), 240, "retraining")
    assert "classify: v1 promoted" in _log(env), _log(env)[-3000:]
    [v1] = env.json("models", "list")
    labels = v1["meta"]["labels"]
    assert set(labels) == set(before["invoice.txt"]["scores"]) | {"entertainment", "politics"} and len(labels) == 13
    comparison = v1["meta"]["comparison"]
    assert comparison["measured_by"] == "cross-validation" and comparison["held_out"]["n"] == 8
    assert comparison["held_out"]["wins"] >= 4 and comparison["held_out"]["losses"] == 0
    # the documents nobody corrected are re-run with v1: each keeps its label
    wait_for(
        lambda: all(env.json("show", str(docs[n]))["results"]["classify"]["model_version"] == "v1" for n in OTHERS),
        60,
        "the re-runs",
    )
    for name in OTHERS:
        after = env.json("show", str(docs[name]))["results"]["classify"]["data"]
        assert after["label"] == before[name]["label"], (name, before[name], after)
    # a fresh README invoice and a fresh film review
    (env.inbox / "new-invoice.txt").write_text(README_INVOICE.replace("42", "43"), encoding="utf-8")
    (env.inbox / "new-film.txt").write_text("The director's new film won the audience award at the festival.")
    wait_for(lambda: all_settled(env, len(OTHERS) + len(TAUGHT) + 2), 60, "the new documents")
    docs = {d["name"]: d["id"] for d in env.json("list")}
    invoice = env.json("show", str(docs["new-invoice.txt"]))["results"]["classify"]
    assert (invoice["model_version"], invoice["data"]["label"]) == ("v1", "invoice"), invoice
    assert invoice["confidence"] >= 0.9
    film = env.json("show", str(docs["new-film.txt"]))["results"]["classify"]["data"]
    assert film["best_guess"] == "entertainment"
    human = env.run("show", str(docs["new-invoice.txt"])).stdout
    assert re.search(r"classify \(v1\): invoice \(0\.\d\d\)", human), human
