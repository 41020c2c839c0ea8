"""Starting the daemon in the background, stopping it, and asking how it is doing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import AlreadyRunningError, DaemonError
from ..store import Store
from .pidfile import running_info
from .readiness import wait_ready

START_TIMEOUT_S = 120.0  # the base model's libraries load before it is ready (seconds, more on a busy machine)


def start_detached(settings: Settings, config_arg: str | None) -> int:
    """Start ``workflowd start --foreground`` in a new session and wait until it is ready: its
    config, pipelines, plugins, sources and base model are in order. Returns its pid.

    Raises ConfigError / PluginError / DaemonError with the reason the daemon gave (it is also
    in its log), or DaemonError when it died without one.
    """
    info = running_info(settings.pid_path)
    if info is not None:
        raise AlreadyRunningError(f"workflowd is already running (pid {info.get('pid')})")
    err_path = settings.log_path.parent / "daemon.stderr"
    try:
        err_path.parent.mkdir(parents=True, exist_ok=True)
        offset = err_path.stat().st_size if err_path.exists() else 0
    except OSError as exc:
        raise DaemonError(f"cannot use the data dir {settings.data_dir}: {exc.strerror or exc}") from None
    read_fd, write_fd = os.pipe()
    # -P: not the current directory first on sys.path, where `workflowd start` run from the home
    # folder would import ~/workflowd/ (the default inbox's folder) instead of the package
    cmd = [sys.executable, "-P", "-m", "workflowd"]
    if config_arg:
        cmd += ["--config", str(config_arg)]
    cmd += ["start", "--foreground", "--quiet", "--ready-fd", str(write_fd)]
    try:
        with open(err_path, "ab") as err:
            os.fchmod(err.fileno(), 0o600)
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                close_fds=True, pass_fds=(write_fd,),
            )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the daemon holds the only write end: EOF when it answers or dies
    try:
        wait_ready(read_fd, proc, START_TIMEOUT_S)
    except DaemonError as exc:
        tail = _tail(err_path, 5, since=offset) if proc.poll() is not None else ""
        raise DaemonError(f"{exc}" + (f"\n{tail}" if tail else "") + f"\n(see {settings.log_path})") from None
    return proc.pid


def stop(settings: Settings, timeout: float | None = None) -> int | None:
    """Ask the daemon to stop (SIGTERM) and wait until it has; returns its pid, or None if none ran."""
    info = running_info(settings.pid_path)
    if info is None:
        return None
    pid = info.get("pid")
    if not isinstance(pid, int):
        raise DaemonError(f"the pidfile {settings.pid_path} is locked but names no pid")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return pid
    wait = (settings.daemon.stop_timeout + 15.0) if timeout is None else timeout
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if running_info(settings.pid_path) is None:
            return pid
        time.sleep(0.05)
    raise DaemonError(f"workflowd (pid {pid}) did not stop within {wait:.0f} s; `kill -9 {pid}` ends it")


def reload(settings: Settings) -> int:
    info = running_info(settings.pid_path)
    if info is None or not isinstance(info.get("pid"), int):
        raise DaemonError("workflowd is not running")
    os.kill(info["pid"], signal.SIGHUP)
    return int(info["pid"])


def wake_delivery(settings: Settings) -> int | None:
    """Tell a running daemon that the outbox or the queue changed (SIGUSR1), so that it sends
    and processes what is due now; returns its pid, or None when none runs."""
    info = running_info(settings.pid_path)
    if info is None or not isinstance(info.get("pid"), int):
        return None
    try:
        os.kill(info["pid"], signal.SIGUSR1)
    except (ProcessLookupError, PermissionError):
        return None
    return int(info["pid"])


def status(settings: Settings) -> dict[str, Any]:
    """What ``status --json`` prints: running, pid, uptime, whether the models are loaded (ready),
    queue depth, documents by status, alert deliveries by status."""
    info = running_info(settings.pid_path)
    out: dict[str, Any] = {
        "running": info is not None,
        "pid": info.get("pid") if info else None,
        "started_at": info.get("started_at") if info else None,
        "uptime_s": round(time.time() - info["started"], 1) if info and "started" in info else None,
        # models loaded (warm-up over); a daemon older than this key was ready once it answered
        "ready": bool(info.get("ready", True)) if info else False,
        "ready_seconds": info.get("ready_seconds") if info else None,
        "web_url": info.get("web_url") if info else None,  # the page and JSON API, when served
        "data_dir": str(settings.data_dir),
        "config": str(settings.file) if settings.file else None,
        "queue": 0,
        "counts": {},
        "deliveries": {"pending": 0, "delivered": 0, "dead": 0},
        "sources": [_describe_source(s) for s in settings.sources],
    }
    if settings.db_path.exists():
        store = Store(settings.db_path)
        try:
            out["queue"] = store.jobs.depth()
            out["counts"] = store.documents.counts()
            out["deliveries"] = store.outbox.counts()
        finally:
            store.close()
    else:
        out["counts"] = {"queued": 0, "processing": 0, "done": 0, "failed": 0}
    return out


def _describe_source(source: Any) -> dict[str, Any]:
    """A source for `status`: where it reads from, never its password."""
    if source.type == "imap":
        return {"name": source.name, "type": source.type, "host": source.host, "port": source.effective_port,
                "security": source.security, "username": source.username, "folders": list(source.folders)}
    return {"name": source.name, "type": source.type, "path": str(source.path)}


def _tail(path: Path, lines: int = 20, since: int = 0) -> str:
    """The last lines of a file, from byte ``since`` on."""
    try:
        with path.open("rb") as fh:
            fh.seek(since)
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
