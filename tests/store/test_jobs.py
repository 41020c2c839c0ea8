"""The durable queue: dedupe by content, claim, retry with backoff, re-queue, recovery."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from workflowd.store import FoundFile, JobLost, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "wf.db")
    yield s
    s.close()


def _found(path: str, sha: str = "a" * 64) -> FoundFile:
    return FoundFile(source="src", path=path, name=Path(path).name, sha256=sha, size=3, mtime_ns=7)


def test_same_content_is_one_document_with_two_locations(store: Store) -> None:
    first = store.documents.add(_found("/in/a.txt"), pipeline="default", max_attempts=3)
    second = store.documents.add(_found("/in/copy.txt"), pipeline="default", max_attempts=3)
    assert first == (1, True) and second == (1, False)
    assert [loc["path"] for loc in store.documents.locations(1)] == ["/in/a.txt", "/in/copy.txt"]
    assert store.jobs.depth() == 1
    assert store.documents.is_known_file("/in/copy.txt", 3, 7)
    assert not store.documents.is_known_file("/in/copy.txt", 3, 8)


def test_file_with_error_is_failed_without_a_job(store: Store) -> None:
    doc_id, _ = store.documents.add(_found("/in/big.bin"), pipeline="default", max_attempts=3, error="too big")
    doc = store.documents.get(doc_id)
    assert doc["status"] == "failed" and doc["error"] == "too big" and doc["processed_at"]
    assert store.jobs.depth() == 0


def test_claim_complete(store: Store) -> None:
    store.documents.add(_found("/in/a.txt"), pipeline="mail", max_attempts=3)
    job = store.jobs.claim()
    assert job is not None and job.pipeline == "mail" and job.attempts == 1
    assert store.documents.get(job.document_id)["status"] == "processing"
    assert store.jobs.claim() is None
    with store.transaction():
        store.jobs.complete(job)
    assert store.jobs.counts() == {"done": 1}


def test_retry_with_backoff_then_failed(store: Store) -> None:
    store.documents.add(_found("/in/a.txt"), pipeline="default", max_attempts=2)
    job = store.jobs.claim(now=1000.0)
    assert store.jobs.fail(job, "flaky", retry=True, delay=60, now=1000.0) is True
    doc = store.documents.get(job.document_id)
    assert doc["status"] == "queued" and doc["error"] == "flaky"
    assert store.jobs.claim(now=1059.0) is None  # not due yet
    assert store.jobs.next_due() == pytest.approx(1060.0)
    job = store.jobs.claim(now=1060.0)
    assert job.attempts == 2
    assert store.jobs.fail(job, "flaky again", retry=True, delay=60, now=1060.0) is False
    doc = store.documents.get(job.document_id)
    assert doc["status"] == "failed" and doc["error"] == "flaky again"


def test_bad_input_fails_at_once(store: Store) -> None:
    store.documents.add(_found("/in/a.pdf"), pipeline="default", max_attempts=3)
    job = store.jobs.claim()
    assert store.jobs.fail(job, "damaged PDF", retry=False) is False
    assert store.jobs.counts() == {"failed": 1}


def test_requeue_does_not_count_the_try(store: Store) -> None:
    store.documents.add(_found("/in/a.txt"), pipeline="default", max_attempts=3)
    job = store.jobs.claim()
    assert store.jobs.requeue(job)
    again = store.jobs.claim()
    assert again.attempts == 1
    with pytest.raises(JobLost):  # the first claim is no longer ours
        with store.transaction():
            store.jobs.complete(job)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_recover_requeues_jobs_of_dead_workers_only(store: Store) -> None:
    import socket

    store.documents.add(_found("/in/a.txt", "a" * 64), pipeline="default", max_attempts=3)
    store.documents.add(_found("/in/b.txt", "b" * 64), pipeline="default", max_attempts=3)
    dead, alive = store.jobs.claim(), store.jobs.claim()
    store.conn.execute("UPDATE jobs SET worker = ? WHERE id = ?", (f"{socket.gethostname()}:{_dead_pid()}:1:0", dead.id))
    assert store.jobs.recover() == 1
    assert store.jobs.counts() == {"pending": 1, "running": 1}
    assert store.documents.get(dead.document_id)["status"] == "queued"
    assert store.documents.get(alive.document_id)["status"] == "processing"


def test_recover_gives_up_on_a_file_that_kills_its_worker(store: Store) -> None:
    import socket

    store.documents.add(_found("/in/a.txt"), pipeline="default", max_attempts=1)
    job = store.jobs.claim()
    store.conn.execute("UPDATE jobs SET worker = ? WHERE id = ?", (f"{socket.gethostname()}:{_dead_pid()}:1:0", job.id))
    store.jobs.recover()
    doc = store.documents.get(job.document_id)
    assert doc["status"] == "failed" and "worker process died" in doc["error"]


def test_zombie_and_reused_pids_count_as_dead() -> None:
    import os
    import socket

    from workflowd.store.jobs import claim_token, worker_alive

    assert worker_alive(claim_token())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    # Not reaped yet: a zombie, which still answers kill(pid, 0).
    while open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)
    assert not worker_alive(f"{socket.gethostname()}:{proc.pid}:1:0")
    proc.wait()
    host, pid, _start, token = claim_token().split(":")
    assert not worker_alive(f"{host}:{os.getpid()}:999:{token}")  # same pid, another process's start time


def test_recover_this_process_takes_back_what_a_dead_worker_thread_held(store: Store) -> None:
    store.documents.add(_found("/in/a.txt", "a" * 64), pipeline="default", max_attempts=2)
    store.documents.add(_found("/in/b.txt", "b" * 64), pipeline="default", max_attempts=2)
    held = store.jobs.claim()
    assert store.jobs.recover() == 0  # this process is alive: its jobs are not touched...
    assert store.jobs.recover(this_process=True) == 1  # ...unless its worker thread died
    assert store.documents.get(held.document_id)["status"] == "queued"
    again = store.jobs.claim(document_ids=[held.document_id])
    assert again.attempts == 2  # the try that died counts
    store.jobs.recover(this_process=True)
    doc = store.documents.get(held.document_id)
    assert doc["status"] == "failed"
    assert doc["error"] == "the worker thread died while processing this document (2 tries)"
    assert store.jobs.counts() == {"failed": 1, "pending": 1}


def test_an_error_message_holding_an_undecodable_name_is_stored_escaped(store: Store) -> None:
    import os

    store.documents.add(_found("/in/a.txt"), pipeline="default", max_attempts=1)
    job = store.jobs.claim()
    name = os.fsdecode(b"/in/caf\xe9.txt")
    store.jobs.fail(job, f"cannot read {name}", retry=False)
    assert store.documents.get(job.document_id)["error"] == "cannot read /in/caf\\xe9.txt"
