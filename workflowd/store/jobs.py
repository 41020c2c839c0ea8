"""The durable job queue.

A job is committed (status ``pending``) in the same transaction that records its
document, before any work starts. A worker claims it (``running``, attempts + 1) and
finishes it in the transaction that stores the results. A process killed in between
leaves a ``running`` job whose worker is dead: ``recover`` puts it back in the queue,
and ``max_attempts`` bounds how often a file that kills its worker is tried again.

Jobs of kind ``process`` extract a document and run its pipeline. Jobs of kind
``repredict`` re-run one step (``step``) on a processed document's stored text after a new
model was promoted; they come after every ``process`` job and never change the document's
status: the document stays ``done`` with its earlier result until the new one replaces it.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..filenames import clean_text
from .db import StoreDB, now_iso

PROCESS = "process"
REPREDICT = "repredict"


class JobLost(Exception):
    """The job is no longer ours (re-queued by `stop` or recovered); its work must be dropped."""


@dataclass(frozen=True)
class Job:
    id: int
    document_id: int
    kind: str
    pipeline: str
    attempts: int
    max_attempts: int
    worker: str
    step: str | None = None  # the step a ``repredict`` job re-runs

    @property
    def repredict(self) -> bool:
        return self.kind == REPREDICT


def claim_token() -> str:
    """``<host>:<pid>:<process start time>:<random>``: who holds a job, unique to each claim."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid) or 0}:{secrets.token_hex(4)}"


def _process_start(pid: int) -> str | None:
    """The start time of a live process (Linux ``/proc``), or None if it is dead or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # a zombie has died; its parent just has not reaped it
        return None
    return fields[19]


def worker_alive(worker: str | None) -> bool:
    """Whether the process that claimed a job still runs (other hosts are assumed alive).

    The start time guards against a reused pid; without /proc, a signal 0 tells.
    """
    if not worker:
        return False
    host, pid_text, started, *_ = [*worker.split(":"), "", ""]
    if host != socket.gethostname():
        return True
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if Path("/proc/self/stat").exists():
        return _process_start(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Jobs:
    def __init__(self, db: StoreDB):
        self.db = db

    def claim(self, *, now: float | None = None, document_ids: Iterable[int] | None = None) -> Job | None:
        """Take the next due job (optionally only for these documents) and mark it running."""
        now = time.time() if now is None else now
        sql = "SELECT * FROM jobs WHERE status = 'pending' AND run_after <= ?"
        params: list[object] = [now]
        if document_ids is not None:
            ids = list(document_ids)
            if not ids:
                return None
            sql += f" AND document_id IN ({', '.join('?' * len(ids))})"
            params.extend(ids)
        sql += f" ORDER BY kind != '{PROCESS}', run_after, id LIMIT 1"
        me = claim_token()
        with self.db.transaction() as conn:
            row = self.db.query_one(sql, params)
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = ?, started_at = ?"
                " WHERE id = ?",
                (me, now_iso(), row["id"]),
            )
            if row["kind"] == PROCESS:
                conn.execute(
                    "UPDATE documents SET status = 'processing', updated_at = ? WHERE id = ?",
                    (now_iso(), row["document_id"]),
                )
        return Job(
            id=row["id"],
            document_id=row["document_id"],
            kind=row["kind"],
            pipeline=row["pipeline"],
            attempts=row["attempts"] + 1,
            max_attempts=row["max_attempts"],
            worker=me,
            step=row.get("step"),
        )

    def claim_batch(
        self, limit: int, *, now: float | None = None, document_ids: Iterable[int] | None = None
    ) -> list[Job]:
        """Up to ``limit`` due jobs, claimed together so that their documents are encoded together."""
        ids = None if document_ids is None else list(document_ids)
        jobs: list[Job] = []
        while len(jobs) < limit:
            job = self.claim(now=now, document_ids=ids)
            if job is None:
                break
            jobs.append(job)
        return jobs

    def next_due(self, document_ids: Iterable[int] | None = None) -> float | None:
        """When the earliest pending job becomes due (unix time), or None if none is pending."""
        sql = "SELECT MIN(run_after) FROM jobs WHERE status = 'pending'"
        params: list[object] = []
        if document_ids is not None:
            ids = list(document_ids)
            if not ids:
                return None
            sql += f" AND document_id IN ({', '.join('?' * len(ids))})"
            params.extend(ids)
        value = self.db.scalar(sql, params)
        return float(value) if value is not None else None

    def complete(self, job: Job) -> None:
        """Mark the job done; call inside the transaction that stores its results."""
        cur = self.db.conn.execute(
            "UPDATE jobs SET status = 'done', finished_at = ?, last_error = NULL"
            " WHERE id = ? AND status = 'running' AND worker = ?",
            (now_iso(), job.id, job.worker),
        )
        if cur.rowcount != 1:
            raise JobLost(f"job {job.id} was taken back before it finished")

    def fail(self, job: Job, error: str, *, retry: bool, delay: float = 0.0, now: float | None = None) -> bool:
        """Record a failed try: back to the queue after ``delay`` if allowed, else failed for good.

        Returns True when the job will be retried.
        """
        now = time.time() if now is None else now
        again = retry and job.attempts < job.max_attempts
        error = clean_text(error)  # an OSError's message may hold an undecodable file name
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = ?, run_after = ?, last_error = ?, finished_at = ?"
                " WHERE id = ? AND status = 'running' AND worker = ?",
                (
                    "pending" if again else "failed",
                    now + delay if again else now,
                    error,
                    None if again else now_iso(),
                    job.id,
                    job.worker,
                ),
            )
            if cur.rowcount != 1:
                raise JobLost(f"job {job.id} was taken back before it failed")
            if job.repredict:  # the document keeps its status and its earlier result
                return again
            conn.execute(
                "UPDATE documents SET status = ?, error = ?, updated_at = ?,"
                " processed_at = CASE WHEN ? THEN processed_at ELSE ? END WHERE id = ?",
                ("queued" if again else "failed", error, now_iso(), again, now_iso(), job.document_id),
            )
        return again

    def requeue(self, job: Job) -> bool:
        """Give an unfinished job back to the queue without counting the try (graceful stop)."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = 'pending', attempts = MAX(attempts - 1, 0), worker = NULL"
                " WHERE id = ? AND status = 'running' AND worker = ?",
                (job.id, job.worker),
            )
            if cur.rowcount and not job.repredict:
                conn.execute(
                    "UPDATE documents SET status = 'queued', updated_at = ? WHERE id = ?",
                    (now_iso(), job.document_id),
                )
        return bool(cur.rowcount)

    def recover(self, *, this_process: bool = False) -> int:
        """Put back in the queue the running jobs whose worker process has died; with
        ``this_process``, also those this process claimed (its worker thread died)."""
        recovered = 0
        mine = claim_token().rsplit(":", 1)[0] + ":"
        with self.db.transaction() as conn:
            rows = self.db.query(
                "SELECT id, document_id, kind, worker, attempts, max_attempts FROM jobs WHERE status = 'running'"
            )
            for row in rows:
                held_here = this_process and (row["worker"] or "").startswith(mine)
                if not held_here and worker_alive(row["worker"]):
                    continue
                if row["kind"] != PROCESS:
                    conn.execute(
                        "UPDATE jobs SET status = ?, worker = NULL, run_after = 0 WHERE id = ?",
                        ("pending" if row["attempts"] < row["max_attempts"] else "failed", row["id"]),
                    )
                elif row["attempts"] >= row["max_attempts"]:
                    # The file took its worker down every time: stop trying.
                    who = "thread" if held_here else "process"
                    error = f"the worker {who} died while processing this document ({row['attempts']} tries)"
                    conn.execute(
                        "UPDATE jobs SET status = 'failed', worker = NULL, last_error = ?, finished_at = ?"
                        " WHERE id = ?",
                        (error, now_iso(), row["id"]),
                    )
                    conn.execute(
                        "UPDATE documents SET status = 'failed', error = ?, updated_at = ?, processed_at = ?"
                        " WHERE id = ?",
                        (error, now_iso(), now_iso(), row["document_id"]),
                    )
                else:
                    conn.execute(
                        "UPDATE jobs SET status = 'pending', worker = NULL, run_after = 0 WHERE id = ?",
                        (row["id"],),
                    )
                    conn.execute(
                        "UPDATE documents SET status = 'queued', updated_at = ? WHERE id = ?",
                        (now_iso(), row["document_id"]),
                    )
                recovered += 1
        return recovered

    def queue_repredict(self, step: str, *, limit: int, max_attempts: int = 3) -> int:
        """Queue ``step`` to be re-run on the newest ``limit`` processed documents not yet reviewed
        for it (no correction in force) that have a result of it and no job waiting; returns how
        many. Call it inside the transaction that promotes the step's new model."""
        now = now_iso()
        cur = self.db.conn.execute(
            "INSERT INTO jobs (document_id, kind, step, pipeline, status, attempts, max_attempts, run_after,"
            " created_at) SELECT d.id, ?, ?, j.pipeline, 'pending', 0, ?, 0, ?"
            " FROM documents d JOIN step_results r ON r.document_id = d.id AND r.step = ?"
            " JOIN jobs j ON j.id = (SELECT max(id) FROM jobs WHERE document_id = d.id AND kind = ?)"
            " WHERE d.status = 'done' AND d.text IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.task = ? AND c.undone_at IS NULL"
            "                 AND (c.document_id = d.id OR c.sha256 = d.sha256))"
            " AND NOT EXISTS (SELECT 1 FROM jobs w WHERE w.document_id = d.id"
            "                 AND w.status IN ('pending', 'running') AND (w.kind = ? OR w.step = ?))"
            " ORDER BY d.id DESC LIMIT ?",
            (REPREDICT, step, max_attempts, now, step, PROCESS, step, PROCESS, step, limit),
        )
        return cur.rowcount

    def retry_failed(self, document_ids: Iterable[int] | None, *, max_attempts: int) -> list[int]:
        """Queue failed documents (these, or all) to be processed again from their file, with a
        fresh count of tries; returns their ids. Those with a job waiting are left as they are."""
        sql = ("SELECT d.id, (SELECT pipeline FROM jobs j WHERE j.document_id = d.id AND j.kind = ?"
               " ORDER BY j.id DESC LIMIT 1) AS pipeline FROM documents d WHERE d.status = 'failed'"
               " AND NOT EXISTS (SELECT 1 FROM jobs w WHERE w.document_id = d.id AND w.status IN ('pending', 'running'))")
        params: list[object] = [PROCESS]
        if document_ids is not None:
            ids = list(document_ids)
            if not ids:
                return []
            sql += f" AND d.id IN ({', '.join('?' * len(ids))})"
            params.extend(ids)
        now = now_iso()
        queued: list[int] = []
        with self.db.transaction() as conn:
            for row in self.db.query(sql + " ORDER BY d.id", params):
                conn.execute(
                    "INSERT INTO jobs (document_id, kind, pipeline, status, attempts, max_attempts, run_after,"
                    " created_at) VALUES (?, ?, ?, 'pending', 0, ?, 0, ?)",
                    (row["id"], PROCESS, row["pipeline"] or "default", max_attempts, now),
                )
                conn.execute("UPDATE documents SET status = 'queued', error = NULL, updated_at = ? WHERE id = ?",
                             (now, row["id"]))
                queued.append(int(row["id"]))
        return queued

    def claim_possible(self, document_ids: Iterable[int]) -> bool:
        """Whether any job of these documents is pending (whenever it is due)."""
        return self.next_due(document_ids) is not None

    def running_for(self, document_ids: Iterable[int]) -> int:
        """How many jobs of these documents are running (in any process)."""
        ids = list(document_ids)
        if not ids:
            return 0
        return int(
            self.db.scalar(
                f"SELECT COUNT(*) FROM jobs WHERE status = 'running' AND document_id IN ({', '.join('?' * len(ids))})",
                ids,
            )
        )

    def depth(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running')") or 0)

    def counts(self) -> dict[str, int]:
        rows = self.db.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {r["status"]: r["n"] for r in rows}
