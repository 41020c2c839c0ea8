"""The command line as a user meets it: help, init, ingest, list, show, and the README's commands."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, Env, shared_data
from workflowd.cli import build_parser

README = (REPO / "README.md").read_text()
LIST_KEYS = {"id", "parent_id", "sha256", "source", "path", "media_type", "status", "error", "created_at",
             "processed_at"}


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help_and_is_in_the_readme(command: str, wf_env: Env) -> None:
    out = wf_env.run(command, "--help").stdout
    assert f"workflowd {command}" in out
    assert f"`workflowd {command}" in README, f"README's command table lacks {command}"


def test_version_and_top_level_help(wf_env: Env) -> None:
    assert wf_env.run("--version").stdout.startswith("workflowd ")
    out = wf_env.run("--help").stdout
    for command in _commands():
        assert command in out


def test_init_writes_config_and_folders_then_adds_a_watch(tmp_path: Path, wf_env: Env) -> None:
    env = wf_env
    env.config.unlink()
    inbox, data = tmp_path / "in box", tmp_path / "data"
    out = env.run("init", "--watch", str(inbox), "--data-dir", str(data)).stdout
    assert f"wrote {env.config}" in out
    assert inbox.is_dir() and data.is_dir()
    status = env.json("status")
    assert status["data_dir"] == str(data)
    assert [s["path"] for s in status["sources"]] == [str(inbox)]
    other = tmp_path / "scans"
    out = env.run("init", "--watch", str(other)).stdout
    assert "added" in out and other.is_dir()
    assert [s["path"] for s in env.json("status")["sources"]] == [str(inbox), str(other)]
    env.run("init", "--watch", str(other))  # already watched: nothing added twice
    assert len(env.json("status")["sources"]) == 2


def test_init_default_paths_follow_xdg(wf_env: Env) -> None:
    env = wf_env
    del env.env["WORKFLOWD_CONFIG"]
    env.run("init")
    assert (env.home / ".config/workflowd/config.toml").exists()
    assert (env.home / "workflowd/inbox").is_dir()
    assert (env.home / ".local/share/workflowd").is_dir()


def test_ingest_list_show_json_shapes(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    note = tmp_path / "note.md"
    note.write_text("# Shopping\n\n- milk\n- bread\n")
    mail = shared_data("emails", "mail_gem_fixtures", "attachment_emails", "attachment_nonascii_filename.eml")
    docs = env.json("ingest", str(note), str(mail))
    assert [d["name"] for d in docs] == ["note.md", mail.name, "ciële.txt"]
    for d in docs:
        assert LIST_KEYS <= set(d)
        assert d["status"] == "done"
    assert docs[2]["parent_id"] == docs[1]["id"]
    assert docs[0]["media_type"] == "text/markdown" and docs[0]["source"] == "ingest"

    listed = env.json("list")
    assert [d["id"] for d in listed] == [d["id"] for d in docs]
    assert env.json("list", "--status", "failed") == []

    shown = env.json("show", str(docs[1]["id"]))
    assert LIST_KEYS | {"text", "results", "locations", "children", "meta"} <= set(shown)
    assert shown["children"] == [docs[2]["id"]]
    assert shown["meta"]["subject"] == "testing"
    assert "This is the first part." in shown["text"]
    assert "milk" in env.json("show", str(docs[0]["id"]))["text"]

    # The same content again is not processed again.
    again = env.json("ingest", str(note))
    assert [d["id"] for d in again] == [docs[0]["id"]]
    assert len(env.json("list")) == 3


def test_ingest_reports_missing_paths_and_keeps_going(wf_env: Env, tmp_path: Path) -> None:
    good = tmp_path / "ok.txt"
    good.write_text("fine")
    proc = wf_env.run("ingest", str(tmp_path / "missing.txt"), str(good), "--json", check=False)
    assert proc.returncode == 1
    assert "missing.txt: no such file or directory" in proc.stderr
    assert [d["name"] for d in json.loads(proc.stdout)] == ["ok.txt"]


def test_ingest_empty_and_oversized_files_fail_with_reasons(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    env.write_config(env.config.read_text() + "[extract]\nmax_file_mb = 0.001\n")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "big.txt").write_text("x" * 5000)
    docs = {d["name"]: d for d in env.json("ingest", str(tmp_path))}
    assert docs["empty.txt"]["status"] == "failed" and docs["empty.txt"]["error"] == "empty file (0 bytes)"
    assert docs["big.txt"]["status"] == "failed"
    assert "over the limit of 0.001 MB (extract.max_file_mb)" in docs["big.txt"]["error"]


def test_show_unknown_id(wf_env: Env) -> None:
    proc = wf_env.run("show", "99", check=False)
    assert proc.returncode == 1 and "no document" in proc.stderr


def test_human_output_is_plain_without_a_terminal(wf_env: Env, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    wf_env.run("ingest", str(tmp_path / "a.txt"))
    out = wf_env.run("list").stdout
    assert "a.txt" in out and "\x1b[" not in out
    assert "hello" in wf_env.run("show", "1").stdout


def _quickstart() -> list[str]:
    block = README.split("<!-- quickstart -->")[1].split("<!-- /quickstart -->")[0]
    body = re.search(r"```sh\n(.*?)```", block, re.S).group(1)
    return [line.split("  #")[0].strip() for line in body.splitlines() if line.strip()]


def test_readme_install_lines_are_what_ci_installs() -> None:
    lines = _quickstart()
    ci = (REPO / ".ci" / "run").read_text()
    assert "pip install torch==2.13.0" in lines and re.search(r"pip install (-q )?torch==2\.13\.0\n", ci)
    # CI adds the test extras (and apprise, whose notifier has tests) to the same editable install
    assert "pip install -e ." in lines and re.search(r"pip install (-q )?-e '\.\[test(,apprise)?\]'\n", ci)


@pytest.mark.slow
def test_readme_quickstart_runs(wf_env: Env) -> None:
    """The README's commands after the install, in a fresh home, give a listed document with its text."""
    env = wf_env
    del env.env["WORKFLOWD_CONFIG"]
    run_from = next(i for i, line in enumerate(_quickstart()) if line.startswith("workflowd init"))
    bin_dir = str(Path(sys.executable).parent)
    env.env["PATH"] = bin_dir + os.pathsep + env.env.get("PATH", "")
    try:
        for line in _quickstart()[run_from:]:
            if line.startswith("workflowd list"):
                deadline = time.monotonic() + 120  # the first start loads three models
                while time.monotonic() < deadline:
                    docs = json.loads(_sh(line, env).stdout)
                    if docs and docs[0]["status"] == "done":
                        break
                    time.sleep(0.3)
                assert [d["name"] for d in docs] == ["hello.txt"]
                assert docs[0]["status"] == "done"
            else:
                out = _sh(line, env).stdout
                if line.startswith("workflowd search"):
                    assert "hello.txt" in out
                if line.startswith("workflowd open"):
                    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/login\?token=\S+\n", out), out
                if line.startswith("workflowd show"):
                    assert "Invoice 42 from Acme Corp in Berlin: 120 EUR, due 1 March 2027" in out
                    # each result as a person reads it: the label, the names by type, the sentiment
                    assert re.search(r"classify \(zero-shot\): invoice \(0\.9\d\)", out), out
                    assert "PER: Anna Schmidt" in out and "LOC: Berlin" in out and "DATE: 2027-03-01" in out
                    assert re.search(r"sentiment \(shipped\): (neutral|positive) \(score", out), out
                    assert "{'" not in out  # no Python dict
        # No training step was run: the shipped models give entities, a summary and sentiment.
        results = json.loads(_sh("workflowd show 1 --json", env).stdout)["results"]
        assert set(results) >= {"classify", "entities", "summarize", "sentiment"}
        found = {(e["type"], e["text"]) for e in results["entities"]["data"]["entities"]}
        assert {("LOC", "Berlin"), ("PER", "Anna Schmidt"), ("DATE", "1 March 2027")} <= found
        assert any(t == "MONEY" for t, _ in found) and any(t == "ORG" and "Acme" in x for t, x in found)
        assert results["summarize"]["data"]["summary"].startswith("Invoice 42")
        assert results["sentiment"]["data"]["label"] in ("negative", "neutral", "positive")
    finally:
        _sh("workflowd stop", env)


def _sh(line: str, env: Env) -> subprocess.CompletedProcess:
    proc = subprocess.run(["bash", "-c", line], env=env.env, capture_output=True, text=True, timeout=120,
                          cwd=env.root)
    assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_logs_follow_prints_new_lines_across_rotation(wf_env: Env) -> None:
    log = wf_env.data_dir / "logs" / "workflowd.log"
    log.parent.mkdir(parents=True)
    log.write_text("old line\n")
    proc = subprocess.Popen([sys.executable, "-m", "workflowd", "logs", "-f", "-n", "5"], env=wf_env.env,
                            stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        assert lines.get(timeout=30) == "old line\n"
        with log.open("a") as fh:  # at once: a line written right after the tail is not lost
            fh.write("new line\n")
        assert lines.get(timeout=30) == "new line\n"
        log.rename(log.with_suffix(".log.1"))  # what the rotating handler does
        log.write_text("after rotation\n")
        assert lines.get(timeout=30) == "after rotation\n"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
