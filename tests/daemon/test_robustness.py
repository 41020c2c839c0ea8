"""A real daemon against what broke it: odd file names, plugin steps that exit, threads that
die, config typos at start; and what it leaves on disk is private."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Env, base_config
from tests.daemon.helpers import all_settled, daemon_pid, query, wait_for

pytestmark = pytest.mark.slow

PLUGINS = Path(__file__).parent / "plugins"


def private_plugins(env: Env) -> Path:
    """The test plugins, in a folder as `workflowd` wants one: the owner's, writable by no one else."""
    folder = env.root / "plugins"
    folder.mkdir(mode=0o700, exist_ok=True)
    for path in PLUGINS.glob("*.py"):
        shutil.copy(path, folder / path.name)
        (folder / path.name).chmod(0o600)
    return folder


def configure(env: Env, steps: list[str], extra: str = "") -> None:
    env.write_config(
        f'plugins_dir = "{private_plugins(env)}"\n'
        + base_config(env.data_dir, env.inbox)
        + f"[pipelines.default]\nsteps = {json.dumps(steps)}\n"
        + extra
    )


def log_text(env: Env) -> str:
    return (env.data_dir / "logs" / "workflowd.log").read_text(encoding="utf-8")


def bytes_path(folder: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


MAIL = (
    b"From: a@example.com\nTo: b@example.com\nSubject: caf\xe9 report\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nSee attached.\n--XX\n"
    b'Content-Type: text/plain\nContent-Disposition: attachment; filename="r\xe9sum\xe9 \xff.txt"\n\n'
    b"the attached text\n--XX--\n"
)


def test_any_file_name_is_a_document_and_never_blocks_the_others(wf_env: Env) -> None:
    env = wf_env
    configure(env, ["slow"], "[steps.slow]\nseconds = 0\n")
    odd = {
        b"caf\xe9 latin-1.txt": "caf\\xe9 latin-1.txt",
        b"two\nlines.txt": "two\\nlines.txt",
        b"L" * 251 + b".txt": "L" * 251 + ".txt",  # 255 bytes: the longest name Linux allows
        b"mail \xff.eml": "mail \\xff.eml",
    }
    bytes_path(env.inbox, b"there before \xfe.txt").write_bytes(b"found by the scan at start")
    env.run("start", timeout=120)
    for i, name in enumerate(odd):
        bytes_path(env.inbox, name).write_bytes(MAIL if name.endswith(b".eml") else b"text of file %d" % i)
    t0 = time.monotonic()
    (env.inbox / "normal.txt").write_text("dropped after the odd ones")
    wait_for(lambda: query(env, "SELECT 1 FROM documents WHERE name = 'normal.txt' AND status = 'done'"), 20,
             "the normal file")
    assert time.monotonic() - t0 < 15
    wait_for(lambda: all_settled(env, len(odd) + 3), 30, "every document")

    docs = {d["name"]: d for d in env.json("list")}  # valid JSON: the names are display text
    assert set(docs) == {*odd.values(), "there before \\xfe.txt", "normal.txt", "r\ufffdsum\ufffd \ufffd.txt"}
    assert all(d["status"] == "done" for d in docs.values()), docs
    for i, (name, shown) in enumerate(odd.items()):
        doc = env.json("show", str(docs[shown]["id"]))
        assert doc["path"] == str(env.inbox) + "/" + shown
        if name.endswith(b".eml"):
            assert doc["title"] == "café report" and doc["children"]
            assert "the attached text" in env.json("show", str(doc["children"][0]))["text"]
        else:  # the extractor read the exact bytes of the path
            assert doc["text"].strip() == f"text of file {i}", shown
        assert doc["results"]["slow"]["status"] == "ok"
    human = env.run("list").stdout
    assert "caf\\xe9" in human and "two\\nlines" in human

    log = log_text(env)
    assert "queued " + str(env.inbox) + "/two\\nlines.txt as document" in log
    assert "caf\\xe9 latin-1.txt" in log
    assert "Logging error" not in (env.data_dir / "logs" / "daemon.stderr").read_text(errors="replace")

    # After a restart every one is known by its exact bytes: nothing is taken twice.
    env.run("stop")
    env.run("start", timeout=120)
    (env.inbox / "after-restart.txt").write_text("one more")
    wait_for(lambda: all_settled(env, len(odd) + 4), 30, "the file after the restart")
    assert query(env, "SELECT COUNT(*) AS n FROM documents")[0]["n"] == len(odd) + 4
    assert query(env, "SELECT COUNT(*) AS n FROM jobs")[0]["n"] == len(odd) + 4
    env.run("stop")


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[steps.classify]\ntreshold = 0.5\n", "steps.classify.treshold: unknown key 'treshold' (did you mean 'threshold'?)"),
        ("[steps.sumarize]\nsentences = 2\n", "unknown step 'sumarize' (in the [steps.sumarize] table"),
    ],
)
def test_start_reports_a_config_error_with_its_key(wf_env: Env, table: str, key: str) -> None:
    env = wf_env
    env.write_config(base_config(env.data_dir, env.inbox) + table)
    proc = env.run("start", check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert key in proc.stderr and "started" not in proc.stdout
    assert not env.json("status")["running"]
    assert "workflowd cannot start: " in log_text(env) and key in log_text(env)  # the log says why
    check = env.run("check", check=False)
    assert check.returncode == 2 and key in check.stdout
    # Fixed, it starts: the failed start left nothing behind.
    env.write_config(base_config(env.data_dir, env.inbox))
    assert "workflowd started" in env.run("start", timeout=120).stdout
    env.run("stop")


def test_a_step_calling_sys_exit_fails_that_step_only(wf_env: Env) -> None:
    env = wf_env
    configure(env, ["exits", "slow"], "[steps.slow]\nseconds = 0\n")
    env.run("start", timeout=120)
    (env.inbox / "a.txt").write_text("this step will exit")
    wait_for(lambda: all_settled(env, 1), 30, "the document whose step exits")
    (env.inbox / "b.txt").write_text("a later document")
    wait_for(lambda: all_settled(env, 2), 30, "a later document")
    docs = {d["name"]: d for d in env.json("list")}
    first = env.json("show", str(docs["a.txt"]["id"]))
    assert first["status"] == "done"
    assert first["results"]["exits"]["status"] == "failed"
    assert "SystemExit" in first["results"]["exits"]["error"]
    assert first["results"]["slow"]["status"] == "ok"  # the next step ran
    assert env.json("show", str(docs["b.txt"]["id"]))["results"]["exits"]["status"] == "ok"
    status = env.json("status")
    assert status["running"] and status["queue"] == 0
    assert status["counts"] == {"queued": 0, "processing": 0, "done": 2, "failed": 0}
    env.run("stop")


def test_a_dead_worker_thread_is_restarted_and_its_job_requeued(wf_env: Env) -> None:
    env = wf_env
    marker = env.root / "interrupted"
    configure(env, ["interrupt"], f'[steps.interrupt]\nonce_marker = "{marker}"\n')
    pid = env.run("start", timeout=120) and daemon_pid(env)
    (env.inbox / "killer.txt").write_text("interrupt the worker")
    wait_for(lambda: all_settled(env, 1), 30, "the document that ended the worker thread")
    assert marker.exists()
    log = log_text(env)
    assert "thread workflowd-worker died: KeyboardInterrupt" in log
    assert "the worker thread died; re-queued 1 job(s) it held and started another" in log
    [job] = query(env, "SELECT status, attempts FROM jobs")
    assert job == {"status": "done", "attempts": 2}  # the try that died counts
    (env.inbox / "after.txt").write_text("processed by the new worker")
    wait_for(lambda: all_settled(env, 2), 30, "a document after the restart")
    assert daemon_pid(env) == pid and env.json("status")["queue"] == 0
    env.run("stop")


def test_a_thread_that_keeps_dying_makes_the_daemon_exit_non_zero(wf_env: Env) -> None:
    env = wf_env
    configure(env, ["interrupt"])
    # Each kills the worker until its 3 tries are used up; after a death the documents the
    # worker held are tried alone. However they were batched, that is 6 deaths or more: 5
    # restarts are allowed.
    for i in range(3):
        (env.inbox / f"killer-{i}.txt").write_text(f"interrupt the worker, every time ({i})")
    proc = subprocess.run([sys.executable, "-m", "workflowd", "start", "--foreground"], env=env.env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "the worker thread died 6 times within 10 minutes; workflowd exits" in proc.stderr
    assert "workflowd stops: the worker thread died 6 times" in log_text(env)
    failed = query(env, "SELECT error FROM documents WHERE status = 'failed'")
    assert failed and {f["error"] for f in failed} == {"the worker thread died while processing this document (3 tries)"}


def test_every_file_the_daemon_writes_is_private_whatever_the_umask(wf_env: Env) -> None:
    env = wf_env
    # Left by an older version under umask 022: tightened at start.
    (env.data_dir / "logs").mkdir(parents=True, mode=0o755)
    env.data_dir.chmod(0o755)
    (env.data_dir / "logs" / "workflowd.log.1").write_text("an old rotated log\n")
    (env.data_dir / "logs" / "workflowd.log.1").chmod(0o644)
    configure(env, ["slow"], "[steps.slow]\nseconds = 0\n[training]\nnice = 3\n")
    old = os.umask(0o022)
    try:
        env.run("start", timeout=120)
        (env.inbox / "mail.eml").write_bytes(MAIL)  # its attachment goes to the blob store
        wait_for(lambda: all_settled(env, 2), 30, "the mail and its attachment")
        assert env.run("check").returncode == 0
        env.run("stop")
        # A model trained from the command line: its artifacts are private too.
        from tests.training.test_classify import TOPICS

        data = env.root / "topics.jsonl"
        data.write_text("".join(json.dumps({"text": t, "label": k}) + "\n" for k, ts in TOPICS.items() for t in ts))
        env.run("train", "--task", "classify", "--data", str(data), "--no-unlabeled", timeout=300)
    finally:
        os.umask(old)
    seen = {p.relative_to(env.data_dir).as_posix() for p in env.data_dir.rglob("*")}
    assert {"workflowd.db", "workflowd.pid", "logs/workflowd.log", "logs/workflowd.log.1", "logs/daemon.stderr",
            "blobs"} <= seen
    assert any(s.startswith("blobs/") and len(s) > 60 for s in seen)  # blobs/<aa>/<sha256>
    assert any(s.startswith("models/classify/v1/") for s in seen)
    assert stat.S_IMODE(env.data_dir.stat().st_mode) == 0o700
    for path in [env.data_dir, *env.data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {mode:04o}"


def test_foreground_daemon_tells_systemd_it_is_ready(wf_env: Env) -> None:
    env = wf_env
    address = str(env.root / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(60)
        proc = subprocess.Popen([sys.executable, "-m", "workflowd", "start", "--foreground"],
                                env={**env.env, "NOTIFY_SOCKET": address},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert sock.recv(1024) == b"READY=1"
            assert env.json("status")["running"]
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0
