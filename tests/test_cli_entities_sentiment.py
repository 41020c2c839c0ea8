"""train and eval for entities and sentiment through the CLI, on slices of the public data."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Env, shared_data


def _conll_slice(src: Path, dest: Path, documents: int) -> Path:
    """The first ``documents`` documents of a CoNLL file."""
    out, seen = [], 0
    for line in src.read_text(encoding="utf-8").splitlines():
        if line.startswith("-DOCSTART-"):
            seen += 1
            if seen > documents:
                break
        out.append(line)
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")
    return dest


def _tsv_rows(src: Path, dest: Path, every: int, limit: int) -> Path:
    lines = src.read_text(encoding="utf-8").splitlines()
    rows = [
        json.dumps({"text": r.split("\t")[0].strip(), "label": r.split("\t")[1].strip()})
        for r in lines[1::every][:limit]
    ]
    dest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return dest


def test_eval_entities_with_the_shipped_tagger(wf_env: Env, tmp_path: Path) -> None:
    data = _conll_slice(shared_data("conll2003") / "valid.txt", tmp_path / "valid.conll", 6)
    result = wf_env.json("eval", "--task", "entities", "--data", str(data))
    assert result["task"] == "entities" and result["model_version"] == "shipped" and result["documents"] == 6
    m = result["metrics"]
    assert set(m["per_type"]) == {"PER", "ORG", "LOC", "MISC"}
    assert m["f1"] >= 0.8 and 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1
    human = wf_env.run("eval", "--task", "entities", "--data", str(data)).stdout
    assert "entities shipped on" in human and "PER" in human


def test_eval_sentiment_three_classes_and_binary(wf_env: Env, tmp_path: Path) -> None:
    fpb = _tsv_rows(
        shared_data("financial_phrasebank") / "sentences_allagree.train.tsv", tmp_path / "f.jsonl", 20, 60
    )
    r = wf_env.json("eval", "--task", "sentiment", "--data", str(fpb))
    assert r["n"] == 60 and r["metrics"]["binary"] is False and r["metrics"]["accuracy"] >= 0.8
    sst = shared_data("sst2") / "train.tsv"  # a TSV straight from the data, labels 0/1
    small = tmp_path / "sst.tsv"
    small.write_text(
        "\n".join(
            sst.read_text(encoding="utf-8").splitlines()[:1:]
            + sst.read_text(encoding="utf-8").splitlines()[1::500]
        )
        + "\n",
        encoding="utf-8",
    )
    r = wf_env.json("eval", "--task", "sentiment", "--data", str(small))
    assert r["metrics"]["binary"] is True and set(r["metrics"]["per_class"]) == {"negative", "positive"}
    assert r["metrics"]["accuracy"] >= 0.8


def test_train_entities_and_sentiment_register_versions(wf_env: Env, tmp_path: Path) -> None:
    conll = shared_data("conll2003")
    train = _conll_slice(conll / "train.txt", tmp_path / "train.conll", 8)
    valid = _conll_slice(conll / "valid.txt", tmp_path / "valid.conll", 3)
    v = wf_env.json(
        "train", "--task", "entities", "--data", str(train), "--valid", str(valid), "--epochs", "1"
    )
    assert v["task"] == "entities" and v["status"] == "promoted" and v["meta"]["train_documents"] == 8
    assert 0 <= v["metrics"]["f1"] <= 1
    r = wf_env.json("eval", "--task", "entities", "--data", str(valid))
    assert r["model_version"] == v["version"]

    fpb = _tsv_rows(
        shared_data("financial_phrasebank") / "sentences_50agree.train.tsv", tmp_path / "f.jsonl", 16, 240
    )
    sst = _tsv_rows(shared_data("sst2") / "train.tsv", tmp_path / "s.jsonl", 300, 200)
    v = wf_env.json(
        "train", "--task", "sentiment", "--data", str(sst), "--data", str(fpb), "--epochs", "1", "--val-share", "0.3"
    )
    assert v["task"] == "sentiment" and v["status"] == "promoted"
    assert [d["binary"] for d in v["meta"]["data"]] == [True, False]
    assert set(v["metrics"]["validation"]) == {"s.jsonl", "f.jsonl"}  # 30% of each label of each file
    assert v["metrics"]["validation"]["s.jsonl"]["binary"] and 0 <= v["metrics"]["mean_accuracy"] <= 1
    listed = {(m["task"], m["status"]) for m in wf_env.json("models", "list")}
    assert listed == {("entities", "promoted"), ("sentiment", "promoted")}
    bad = wf_env.run("train", "--task", "entities", "--data", str(fpb), check=False)
    assert bad.returncode != 0 and "not a BIO tag" in bad.stderr
