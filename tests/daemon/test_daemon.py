"""The real daemon, as a separate process, on temp folders: nothing lost, nothing twice."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Env, base_config, shared_data
from tests.daemon.helpers import all_settled, copy, daemon_pid, query, wait_for, wakeups_and_cpu

pytestmark = pytest.mark.slow

PLUGINS = Path(__file__).parent / "plugins"


def slow_config(env: Env, seconds: float, extra: str = "") -> None:
    """The test plugin's ``slow`` step in the default pipeline (top-level keys before tables)."""
    env.write_config(
        f'plugins_dir = "{PLUGINS}"\n'
        + base_config(env.data_dir, env.inbox)
        + f'[pipelines.default]\nsteps = ["slow"]\n[steps.slow]\nseconds = {seconds}\n'
        + f'runs_log = "{env.root / "runs.log"}"\n'
        + extra
    )


def mixed_batch(folder: Path) -> dict[str, dict]:
    """Text, HTML, e-mails and PDFs; returns what each file's document must look like."""
    expected: dict[str, dict] = {}
    (folder / "note.txt").write_text("Remember the dentist on Tuesday.\n", encoding="utf-8")
    expected["note.txt"] = {"text": "Remember the dentist on Tuesday.", "type": "text/plain"}
    (folder / "lettre.txt").write_bytes("Voilà, réglé à 15 h, café compris. Très bien, merci à vous.\n".encode("latin-1"))
    expected["lettre.txt"] = {"text": "Voilà, réglé à 15 h, café compris.", "type": "text/plain"}
    (folder / "page.html").write_text(
        "<html><head><title>Order 42</title><style>p{color:red}</style></head>"
        "<body><script>var secret = 1;</script><p>Your order has shipped.</p></body></html>"
    )
    expected["page.html"] = {"text": "Your order has shipped.", "absent": "secret", "type": "text/html"}

    mails = sorted(shared_data("emails", "spamassassin", "easy_ham").glob("*.eml"))[:4]
    mails.append(shared_data("emails", "mail_gem_fixtures", "attachment_emails", "attachment_nonascii_filename.eml"))
    for src in mails:
        copy(src, folder)
        msg = email.message_from_bytes(src.read_bytes(), policy=email.policy.default)
        expected[src.name] = {"title": " ".join(str(msg["subject"]).split()), "type": "message/rfc822"}
    expected["attachment_nonascii_filename.eml"]["children"] = ["ciële.txt"]

    pdfs = shared_data("pdfs", "py-pdf-sample-files")
    copy(pdfs / "001-trivial" / "minimal-document.pdf", folder)
    expected["minimal-document.pdf"] = {"text": "Lorem ipsum dolor sit amet", "type": "application/pdf"}
    copy(pdfs / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf", folder)
    expected["pdflatex-4-pages.pdf"] = {"text": "Hello, here is some text without a meaning", "type": "application/pdf"}
    damaged = next(iter(sorted(shared_data("pdfs", "qpdf-malformed").glob("*.pdf"))))
    copy(damaged, folder, "damaged.pdf")
    expected["damaged.pdf"] = {"status": "failed"}
    return expected


def check_batch(env: Env, expected: dict[str, dict]) -> None:
    docs = {d["name"]: d for d in env.json("list")}
    for name, want in expected.items():
        assert name in docs, f"{name} was not recorded"
        doc = docs[name]
        if want.get("status") == "failed":
            assert doc["status"] == "failed" and doc["error"], doc
            continue
        assert doc["status"] == "done", doc
        full = env.json("show", str(doc["id"]))
        assert full["media_type"] == want["type"], name
        if "text" in want:
            assert want["text"] in full["text"], (name, full["text"][:300])
        if "absent" in want:
            assert want["absent"] not in full["text"]
        if "title" in want:
            assert full["title"] == want["title"]
        for child in want.get("children", []):
            kids = [docs[n] for n in docs if docs[n]["parent_id"] == doc["id"]]
            assert [k["name"] for k in kids] == [child]
            assert kids[0]["status"] == "done"


def start(env: Env) -> int:
    env.run("start", timeout=120)
    return daemon_pid(env)


def test_mixed_batch_then_sigkill_mid_batch_then_restart(wf_env: Env) -> None:
    env = wf_env
    slow_config(env, seconds=0.15)
    start(env)
    expected = mixed_batch(env.inbox)
    wait_for(lambda: all_settled(env, len(expected) + 1), 90, "the first batch")
    check_batch(env, expected)

    # Second batch: 30 e-mails and 10 text files; kill -9 while it is being processed.
    batch2 = sorted(shared_data("emails", "spamassassin", "hard_ham").glob("*.eml"))[:30]
    for src in batch2:
        copy(src, env.inbox)
    for i in range(10):
        (env.inbox / f"memo-{i}.txt").write_text(f"memo number {i}\n")
    total = len(expected) + 1 + len(batch2) + 10
    wait_for(lambda: len(query(env, "SELECT id FROM documents WHERE status = 'done'")) >= len(expected) + 5,
             60, "part of the second batch")
    in_flight = query(env, "SELECT COUNT(*) AS n FROM documents WHERE status IN ('queued', 'processing')")[0]["n"]
    os.kill(daemon_pid(env), signal.SIGKILL)
    time.sleep(0.3)
    assert not env.json("status")["running"]
    assert in_flight > 0, "the kill should land while documents are in flight"

    start(env)
    wait_for(lambda: all_settled(env, total), 120, "the second batch after the restart")

    docs = env.json("list")
    # Every dropped file is exactly one document: no duplicates, nothing missing.
    top = [d for d in docs if d["parent_id"] is None]
    assert sorted(d["name"] for d in top) == sorted(
        list(expected) + [p.name for p in batch2] + [f"memo-{i}.txt" for i in range(10)]
    )
    assert len({d["sha256"] for d in docs}) == len(docs)
    # ... each with one finished job and one result per step.
    jobs = query(env, "SELECT document_id, status FROM jobs")
    assert sorted(j["document_id"] for j in jobs) == sorted(d["id"] for d in docs)
    assert {j["status"] for j in jobs} <= {"done", "failed"}
    results = query(env, "SELECT document_id FROM step_results WHERE step = 'slow'")
    done_ids = sorted(d["id"] for d in docs if d["status"] == "done")
    assert sorted(r["document_id"] for r in results) == done_ids
    locations = query(env, "SELECT document_id, path FROM locations")
    assert len(locations) == len({(loc["document_id"], loc["path"]) for loc in locations}) == len(docs)
    check_batch(env, expected)
    env.run("stop")


def test_slowly_written_file_is_processed_once_complete(wf_env: Env) -> None:
    env = wf_env
    env.write_config(base_config(env.data_dir, env.inbox).replace("settle_delay = 0.3", "settle_delay = 1.0"))
    start(env)
    path = env.inbox / "growing.txt"
    lines = [f"line {i} of a file written slowly\n" for i in range(12)]
    with open(path, "w") as fh:
        for line in lines:
            fh.write(line)
            fh.flush()
            time.sleep(0.4)  # 12 chunks over ~5 s, each gap shorter than the settle delay
    wait_for(lambda: all_settled(env, 1), 30, "the slow file")
    time.sleep(1.5)
    docs = env.json("list")
    assert len(docs) == 1
    doc = env.json("show", str(docs[0]["id"]))
    assert doc["status"] == "done"
    assert doc["text"].rstrip("\n") == "".join(lines).rstrip("\n")
    env.run("stop")


def test_idle_daemon_does_not_poll(wf_env: Env) -> None:
    env = wf_env
    pid = start(env)
    (env.inbox / "wake.txt").write_text("one file, so that the worker and extractor have run")
    wait_for(lambda: all_settled(env, 1), 30, "the first file")
    time.sleep(1.0)  # let the last log writes and thread hand-offs finish
    switches0, cpu0 = wakeups_and_cpu(pid)
    time.sleep(5.0)
    switches1, cpu1 = wakeups_and_cpu(pid)
    print(f"idle 5 s: {switches1 - switches0} context switches, {cpu1 - cpu0:.3f} s CPU")
    # A thread that polled every second would show at least 5 here per thread.
    assert switches1 - switches0 <= 3
    assert cpu1 - cpu0 <= 0.05
    env.run("stop")


def test_second_daemon_refuses_and_stop_is_clean(wf_env: Env) -> None:
    env = wf_env
    pid = start(env)
    again = env.run("start", check=False)
    assert again.returncode == 1
    assert f"already running (pid {pid}" in again.stderr
    foreground = env.run("start", "--foreground", check=False, timeout=60)
    assert foreground.returncode == 1 and "already running" in foreground.stderr
    status = env.json("status")
    assert status["running"] and status["pid"] == pid and status["uptime_s"] >= 0
    assert set(status) >= {"running", "pid", "queue", "counts"}
    assert set(status["counts"]) == {"queued", "processing", "done", "failed"}
    assert "stopped" in env.run("stop").stdout
    assert not env.json("status")["running"]
    assert "workflowd started" in env.run("logs").stdout
    assert "not running" in env.run("stop").stdout


def test_stop_requeues_a_job_that_does_not_finish(wf_env: Env) -> None:
    env = wf_env
    slow_config(env, seconds=30, extra="")
    env.write_config(env.config.read_text().replace("stop_timeout = 10", "stop_timeout = 0.5"))
    start(env)
    (env.inbox / "long.txt").write_text("this takes a while")
    wait_for(lambda: query(env, "SELECT 1 FROM documents WHERE status = 'processing'"), 30, "processing to start")
    t0 = time.monotonic()
    env.run("stop")
    assert time.monotonic() - t0 < 15
    [job] = query(env, "SELECT status, attempts FROM jobs")
    assert job == {"status": "pending", "attempts": 0}
    assert query(env, "SELECT status FROM documents") == [{"status": "queued"}]
    # With a quick step again, the next start finishes it.
    env.write_config(env.config.read_text().replace("seconds = 30", "seconds = 0"))
    start(env)
    wait_for(lambda: all_settled(env, 1), 30, "the re-queued document")
    assert query(env, "SELECT status, attempts FROM jobs") == [{"status": "done", "attempts": 1}]
    env.run("stop")


def test_sighup_reloads_config_and_survives_a_broken_one(wf_env: Env) -> None:
    env = wf_env
    start(env)
    second = env.root / "second"
    second.mkdir()
    (second / "already-there.txt").write_text("was here before the reload")
    env.write_config(env.config.read_text() + f'[[sources]]\npath = "{second}"\nsettle_delay = 0.3\n')
    env.run("reload")
    wait_for(lambda: all_settled(env, 1), 30, "the file in the added folder")
    (second / "new.txt").write_text("dropped after the reload")
    wait_for(lambda: all_settled(env, 2), 30, "a new file in the added folder")

    good = env.config.read_text()
    env.write_config(good.replace("rescan_interval = 3600", "rescan_interval = 'soon'"))
    refused = env.run("reload", check=False)  # the CLI checks the file first and says what is wrong
    assert refused.returncode == 2 and "daemon.rescan_interval" in refused.stderr
    os.kill(daemon_pid(env), signal.SIGHUP)  # a signal from elsewhere (e.g. systemctl reload)
    log = env.data_dir / "logs" / "workflowd.log"
    wait_for(lambda: "the new configuration was not applied" in log.read_text(), 20, "the reload error in the log")
    assert "daemon.rescan_interval" in log.read_text()
    env.write_config(good)
    assert env.json("status")["running"]
    (env.inbox / "still-works.txt").write_text("the daemon kept its config")
    wait_for(lambda: all_settled(env, 3), 30, "a file after the failed reload")
    env.run("stop")


def test_duplicate_content_is_recorded_as_another_location(wf_env: Env) -> None:
    env = wf_env
    start(env)
    (env.inbox / "a.txt").write_text("same bytes")
    wait_for(lambda: all_settled(env, 1), 30, "the first copy")
    (env.inbox / "sub").mkdir()
    (env.inbox / "sub" / "b.txt").write_text("same bytes")
    wait_for(lambda: len(query(env, "SELECT 1 FROM locations")) == 2, 30, "the second location")
    docs = env.json("list")
    assert len(docs) == 1
    shown = env.json("show", str(docs[0]["id"]))
    assert [loc["path"] for loc in shown["locations"]] == [str(env.inbox / "a.txt"), str(env.inbox / "sub" / "b.txt")]
    assert query(env, "SELECT COUNT(*) AS n FROM jobs")[0]["n"] == 1
    env.run("stop")


def test_files_present_at_start_are_picked_up(wf_env: Env) -> None:
    env = wf_env
    for i in range(3):
        (env.inbox / f"early-{i}.txt").write_text(f"early {i}")
    start(env)
    wait_for(lambda: all_settled(env, 3), 30, "the files present at start")
    env.run("stop")
    # A restart does not take them again.
    start(env)
    time.sleep(1.5)
    assert len(env.json("list")) == 3
    assert query(env, "SELECT COUNT(*) AS n FROM jobs")[0]["n"] == 3
    env.run("stop")


def test_foreground_daemon_stops_on_sigterm(wf_env: Env) -> None:
    import subprocess
    import sys

    env = wf_env
    proc = subprocess.Popen([sys.executable, "-m", "workflowd", "start", "--foreground"], env=env.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: env.json("status")["running"], 60, "the foreground daemon")
        (env.inbox / "fg.txt").write_text("foreground")
        wait_for(lambda: all_settled(env, 1), 30, "a file in foreground mode")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        _out, err = proc.communicate()
        assert "workflowd started" in err and "workflowd stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()



def test_start_from_the_home_folder_beside_the_default_inbox(wf_env: Env) -> None:
    """`workflowd start` typed in ~, where `init` made ~/workflowd/inbox: the daemon must import
    the package, not the folder called workflowd in the current directory."""
    import shutil

    env = wf_env
    (env.home / "workflowd" / "inbox").mkdir(parents=True)
    program = shutil.which("workflowd", path=str(Path(sys.executable).parent))
    assert program is not None, "the workflowd console script is not installed beside this Python"
    started = subprocess.run([program, "start"], cwd=env.home, env=env.env, capture_output=True, text=True,
                             timeout=120)
    assert started.returncode == 0, started.stderr
    assert env.json("status")["running"]
    (env.inbox / "hello.txt").write_text("Started from the home folder.")
    wait_for(lambda: all_settled(env, 1), 60, "the file done")
    assert env.json("list")[0]["status"] == "done"
