"""Driving a real daemon process in tests."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Env


def query(env: Env, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    """Read the store directly (read-only), as fast as the test needs to poll."""
    db = env.data_dir / "workflowd.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    except sqlite3.OperationalError:  # schema not created yet
        return []
    finally:
        conn.close()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def daemon_pid(env: Env) -> int:
    import json

    return json.loads((env.data_dir / "workflowd.pid").read_text())["pid"]


def all_settled(env: Env, expected: int) -> bool:
    rows = query(env, "SELECT status FROM documents")
    return len(rows) >= expected and all(r["status"] in ("done", "failed") for r in rows)


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            children = task / "children"
            if children.exists():
                todo += [int(c) for c in children.read_text().split()]
    return out


def wakeups_and_cpu(pid: int) -> tuple[int, float]:
    """Context switches of every thread of the process tree, and its CPU seconds."""
    import os

    switches, ticks = 0, 0
    for p in process_tree(pid):
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                status = (task / "status").read_text()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return switches, ticks / os.sysconf("SC_CLK_TCK")


def copy(src: Path, dst_dir: Path, name: str | None = None) -> Path:
    dst = dst_dir / (name or src.name)
    tmp = dst_dir / (dst.name + ".part")
    tmp.write_bytes(src.read_bytes())
    tmp.rename(dst)
    return dst
