"""The daemon's own figures: start-up to ready, drop-to-row latency, a flood of files, idle CPU.

Each check starts a REAL daemon (``workflowd start``, detached, as a user runs it) in a temp
data dir with a temp config: the default pipeline, the bundled model, ``HF_HUB_OFFLINE=1``,
the default ``settle_delay``. Each returns a dict; ``benchmarks/throughput.py`` imports them.
``python benchmarks/daemon_checks.py [--flood N]`` runs them all and prints the figures.

Files are small texts: the first paragraph of a BBC article from ../shared/data (generated
sentences when it is not there), each with its own number so that no two are the same
content (the same content is one document by design).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
BBC = REPO.parent / "shared" / "data" / "bbc_news_summary" / "train.jsonl"


def texts(n: int) -> list[str]:
    """``n`` small, distinct texts."""
    paragraphs: list[str] = []
    if BBC.exists():
        for line in BBC.open(encoding="utf-8"):
            article = json.loads(line)
            first = article["text"].strip().split("\n\n")[0].strip()
            if first:
                paragraphs.append(f"{article['title']}\n\n{first}")
    if not paragraphs:
        paragraphs = [f"Note {i}: the meeting with Anna Schmidt in Berlin moved to Tuesday." for i in range(50)]
    return [f"{paragraphs[i % len(paragraphs)]}\n\n(file {i})\n" for i in range(n)]


class Daemon:
    """A workflowd daemon of its own: config, data dir and inbox in a temp folder."""

    def __init__(self, root: Path, extra_config: str = ""):
        self.root = root
        self.data_dir, self.inbox = root / "data", root / "inbox"
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.config = root / "config.toml"
        self.config.write_text(
            f"data_dir = {json.dumps(str(self.data_dir))}\n"
            f"[[sources]]\npath = {json.dumps(str(self.inbox))}\n" + extra_config
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WORKFLOWD_")}
        self.env.update(WORKFLOWD_CONFIG=str(self.config), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                        PYTHONPATH=str(REPO) + os.pathsep + self.env.get("PYTHONPATH", ""))
        self.pid: int | None = None

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workflowd", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, check=True)

    def start(self) -> None:
        self.cli("start")
        self.pid = self.pidfile()["pid"]

    def stop(self) -> None:
        if self.pid is not None:
            subprocess.run([sys.executable, "-m", "workflowd", "stop"], env=self.env, capture_output=True,
                           timeout=120, check=False)
            self.pid = None

    def pidfile(self) -> dict[str, Any]:
        """What ``status --json`` reads for running/ready (cheaper to poll than the command)."""
        try:
            return json.loads((self.data_dir / "workflowd.pid").read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def status(self) -> dict[str, Any]:
        return json.loads(self.cli("status", "--json").stdout)

    def wait_ready(self, timeout: float = 300) -> float:
        """Poll until ``ready``; returns the clock time it was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pidfile().get("ready"):
                return time.monotonic()
            time.sleep(0.05)
        raise TimeoutError("the daemon did not get ready")

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.data_dir / 'workflowd.db'}?mode=ro", uri=True, timeout=30)

    def tree(self) -> list[psutil.Process]:
        if self.pid is None:
            return []
        try:
            top = psutil.Process(self.pid)
            return [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@contextmanager
def daemon(extra_config: str = "") -> Iterator[Daemon]:
    with tempfile.TemporaryDirectory(prefix="workflowd-bench-") as tmp:
        d = Daemon(Path(tmp), extra_config)
        try:
            yield d
        finally:
            d.stop()


def _status_of(db: sqlite3.Connection, name: str) -> str | None:
    try:
        row = db.execute("SELECT status FROM documents WHERE name = ?", (name,)).fetchone()
    except sqlite3.OperationalError:  # the schema is not there yet
        return None
    return row[0] if row else None


def _wait_done(d: Daemon, name: str, timeout: float, interval: float = 0.005) -> float:
    """Poll until the file's document is done (or failed); returns the clock time seen."""
    deadline = time.monotonic() + timeout
    db = None
    while time.monotonic() < deadline:
        if db is None and (d.data_dir / "workflowd.db").exists():
            db = d.db()
        if db is not None and _status_of(db, name) in ("done", "failed"):
            seen = time.monotonic()
            db.close()
            return seen
        time.sleep(interval)
    raise TimeoutError(f"{name} was not processed within {timeout:.0f} s")


def startup_to_ready(timeout: float = 300) -> dict[str, Any]:
    """Seconds from ``workflowd start`` to: the command returning, the daemon ready (its models
    loaded), and the first document done for a file dropped right at start."""
    with daemon() as d:
        name = "first.txt"
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "workflowd", "start"], env=d.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (d.inbox / name).write_text(texts(1)[0])  # dropped right at start
        returned = ready = done = None
        db = None
        while time.monotonic() - t0 < timeout and None in (returned, ready, done):
            now = time.monotonic()
            if returned is None and proc.poll() is not None:
                returned = now
                d.pid = d.pidfile().get("pid")
            if ready is None and d.pidfile().get("ready"):
                ready = now
            if done is None:
                if db is None and (d.data_dir / "workflowd.db").exists():
                    db = d.db()
                if db is not None and _status_of(db, name) in ("done", "failed"):
                    done = now
            time.sleep(0.02)
        if db is not None:
            db.close()
        if None in (returned, ready, done):
            raise TimeoutError("the daemon did not start, get ready and process the first file in time")
        return {
            "start_command_s": round(returned - t0, 2),
            "ready_s": round(ready - t0, 2),
            "ready_seconds_reported": d.status().get("ready_seconds"),
            "first_document_done_s": round(done - t0, 2),
        }


def drop_latency(n: int = 30, pause: float = 0.5) -> dict[str, Any]:
    """Drop-to-row: a small text file written into the watched folder, to its document done,
    one file at a time with the daemon idle and warm. Seconds."""
    with daemon() as d:
        d.start()
        d.wait_ready()
        corpus = texts(n + 1)
        (d.inbox / "warm.txt").write_text(corpus[-1])  # the first document after start (torch's first call)
        _wait_done(d, "warm.txt", 120)
        latencies, intake = [], []
        for i in range(n):
            time.sleep(pause)  # idle again
            name = f"drop-{i:03d}.txt"
            t0, wall0 = time.monotonic(), time.time()
            (d.inbox / name).write_text(corpus[i])
            latencies.append(_wait_done(d, name, 60) - t0)
            with closing(d.db()) as db:  # the store's own times: when the file was taken (queued)
                (created,) = db.execute("SELECT created_at FROM documents WHERE name = ?", (name,)).fetchone()
            intake.append(_epoch(created) - wall0)

        def p95(values: list[float]) -> float:
            return round(sorted(values)[math.ceil(0.95 * len(values)) - 1], 3)  # nearest rank

        return {
            "n": n,
            "p50_s": round(statistics.median(latencies), 3),
            "p95_s": p95(latencies),
            "max_s": round(max(latencies), 3),
            "taken_p50_s": round(statistics.median(intake), 3),  # drop to queued (the folder's part)
            "taken_p95_s": p95(intake),
        }


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _rss_tree(d: Daemon) -> int:
    total = 0
    for p in d.tree():
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _hwm_tree(d: Daemon) -> int:
    """The sum of each process's own peak RSS (VmHWM): an upper bound of the tree's peak."""
    total = 0
    for p in d.tree():
        try:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def flood(n: int = 10_000, timeout: float = 7200) -> dict[str, Any]:
    """``n`` small files written into the watched folder at once; time until every one is done,
    docs/s, files with no document (lost), files with more than one (duplicates), and the peak
    RSS of the daemon's process tree (sampled every 0.2 s; VmHWM summed as an upper bound)."""
    with daemon() as d:
        d.start()
        d.wait_ready()
        corpus = texts(n)
        peak, stop = [0], threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _rss_tree(d))
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        for i, text in enumerate(corpus):
            (d.inbox / f"flood-{i:05d}.txt").write_text(text)
        written = time.monotonic() - t0
        deadline, settled = t0 + timeout, 0
        db = None
        while time.monotonic() < deadline:
            time.sleep(1.0)
            db = db or d.db()
            try:
                settled = db.execute("SELECT COUNT(*) FROM documents WHERE status IN ('done', 'failed')").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if settled >= n:
                break
        took = time.monotonic() - t0
        time.sleep(2.0)  # a file taken twice would show by now
        stop.set()
        sampler.join()
        hwm = _hwm_tree(d)
        assert db is not None
        per_path = Counter(
            os.path.basename(path)
            for (path,) in db.execute("SELECT l.path FROM locations l JOIN documents d ON d.id = l.document_id")
        )
        statuses = Counter(s for (s,) in db.execute("SELECT status FROM documents"))
        db.close()
        names = [f"flood-{i:05d}.txt" for i in range(n)]
        return {
            "n": n,
            "complete": settled >= n,  # false: stopped at ``timeout`` (lost/duplicates still hold)
            "write_s": round(written, 2),
            "all_done_s": round(took, 1),
            "docs_per_s": round(settled / took, 2),
            "settled": settled,
            "statuses": dict(statuses),
            "lost": sum(1 for name in names if per_path[name] == 0),
            "duplicates": sum(1 for name in names if per_path[name] > 1),
            "peak_rss_mb": round(peak[0] / 2**20, 1),
            "sum_vmhwm_mb": round(hwm / 2**20, 1),
        }


def idle_cpu(seconds: float = 60) -> dict[str, Any]:
    """CPU time of the daemon's process tree over ``seconds`` idle (warm, after one document),
    as a percentage of one core."""
    with daemon() as d:
        d.start()
        d.wait_ready()
        (d.inbox / "one.txt").write_text(texts(1)[0])
        _wait_done(d, "one.txt", 120)
        time.sleep(2.0)  # the last log lines and hand-offs

        def cpu() -> float:
            total = 0.0
            for p in d.tree():
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
            return total

        before, t0 = cpu(), time.monotonic()
        time.sleep(seconds)
        used, elapsed = cpu() - before, time.monotonic() - t0
        return {"seconds": round(elapsed, 1), "cpu_s": round(used, 3), "percent_of_core": round(100 * used / elapsed, 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=10_000, help="files in the flood (default 10000)")
    parser.add_argument("--latency-n", type=int, default=30, help="files dropped one at a time (default 30)")
    parser.add_argument("--idle-seconds", type=float, default=60, help="idle CPU window (default 60)")
    parser.add_argument("--only", nargs="*", choices=["startup", "latency", "flood", "idle"],
                        help="run only these checks")
    args = parser.parse_args(argv)
    checks = {
        "startup": lambda: startup_to_ready(),
        "latency": lambda: drop_latency(n=args.latency_n),
        "flood": lambda: flood(n=args.flood),
        "idle": lambda: idle_cpu(seconds=args.idle_seconds),
    }
    results = {}
    for name, check in checks.items():
        if args.only and name not in args.only:
            continue
        results[name] = check()
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    r = results
    if "startup" in r:
        print(f"start-up to ready: {r['startup']['ready_s']} s (first document dropped at start done after "
              f"{r['startup']['first_document_done_s']} s)")
    if "latency" in r:
        print(f"drop-to-row latency, idle and warm: p50 {r['latency']['p50_s']} s, p95 {r['latency']['p95_s']} s")
    if "flood" in r:
        f = r["flood"]
        print(f"flood of {f['n']} files: all done in {f['all_done_s']} s ({f['docs_per_s']} docs/s), lost "
              f"{f['lost']}, duplicates {f['duplicates']}, peak RSS {f['peak_rss_mb']} MB")
    if "idle" in r:
        print(f"idle CPU over {r['idle']['seconds']} s: {r['idle']['percent_of_core']} % of one core")


if __name__ == "__main__":
    main()
