"""``workflowd start | stop | status | reload | logs``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import TextIO

from ..config import load_config
from ..daemon import control
from ..daemon.daemon import Daemon
from ..daemon.readiness import Readiness
from ..errors import WorkflowdError
from . import args as types
from .output import console, print_json


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("start", parents=[common], help="run the daemon (in the background by default)",
                       description="Start the daemon. It detaches and logs to <data_dir>/logs/workflowd.log; "
                       "`start` returns once it is ready (config, pipelines, plugins, sources and base model "
                       "in order), or exits with its reason: code 2 for a config or plugin error, 1 otherwise. "
                       "--foreground keeps it attached and also logs to stderr (for systemd).")
    p.add_argument("--foreground", action="store_true", help="stay in the foreground (for systemd)")
    p.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)  # used by the detached child
    p.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)  # where the detached child says it is ready
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("stop", parents=[common], help="stop the daemon gracefully",
                       description="Stop the daemon: it finishes the current document, or re-queues it "
                       "after daemon.stop_timeout seconds.")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("status", parents=[common], help="is the daemon running, and how much is queued",
                       description="Show whether the daemon runs, its pid and uptime, whether its models are loaded "
                       "(ready), the queue depth "
                       "and the number of documents in each status.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("reload", parents=[common], help="make the daemon re-read its config (SIGHUP)")
    p.set_defaults(func=cmd_reload)

    p = sub.add_parser("logs", parents=[common], help="show the daemon's log",
                       description="Print the end of the daemon's log file; -f keeps following it.")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-n", "--lines", type=types.non_negative_int, default=50, metavar="N", help="lines to show (default 50)")
    p.set_defaults(func=cmd_logs)


def cmd_start(args: argparse.Namespace) -> int:
    config_arg = getattr(args, "config", None)
    readiness = Readiness(args.ready_fd)
    try:
        settings = load_config(config_arg)
    except WorkflowdError as exc:
        readiness.failed(exc)
        raise
    if args.foreground:
        Daemon(settings, config_arg=config_arg, log_to_stderr=not args.quiet, readiness=readiness).run()
        return 0
    pid = control.start_detached(settings, config_arg)
    console.print(f"workflowd started (pid {pid}); log: {settings.log_path}", markup=False)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    pid = control.stop(settings)
    console.print("workflowd is not running" if pid is None else f"workflowd stopped (pid {pid})")
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    pid = control.reload(settings)
    console.print(f"asked workflowd (pid {pid}) to reload its config; see `workflowd logs`")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    info = control.status(settings)
    if args.json:
        print_json(info)
        return 0
    if info["running"]:
        console.print(f"workflowd is running (pid {info['pid']}, up {_duration(info['uptime_s'])})")
        if info["ready"]:
            took = info["ready_seconds"]
            console.print("ready: models loaded" + (f" {took:.1f} s after start" if took is not None else ""))
        else:
            console.print("not ready yet: loading the models (documents wait for them)")
    else:
        console.print("workflowd is not running")
    console.print(f"queue: {info['queue']} job(s)")
    counts = ", ".join(f"{k} {v}" for k, v in info["counts"].items())
    console.print(f"documents: {counts}")
    deliveries = info["deliveries"]
    if any(deliveries.values()):
        console.print("alert deliveries: " + ", ".join(f"{k} {v}" for k, v in deliveries.items())
                      + ("  (`workflowd alerts` shows why)" if deliveries.get("dead") else ""))
    console.print(f"data dir: {info['data_dir']}", markup=False)
    for source in info["sources"]:
        console.print(f"source {source['name']}", markup=False)
    return 0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}d " if d else "") + (f"{h}h " if h or d else "") + f"{m}m {s}s"


def cmd_logs(args: argparse.Namespace) -> int:
    settings = load_config(getattr(args, "config", None))
    path: Path = settings.log_path
    try:
        fh = open(path, errors="replace")  # noqa: SIM115 - kept open to follow from where the tail ends
    except FileNotFoundError:
        if not args.follow:
            console.print(f"no log yet at {path}", markup=False)
            return 0
        fh = None
    if fh is not None:
        # Read through the one handle that -f goes on with: a line written between the
        # tail and the follow is neither lost nor printed twice.
        tail: deque[str] = deque(iter(fh.readline, ""), maxlen=max(args.lines, 0))
        sys.stdout.write("".join(line if line.endswith("\n") else line + "\n" for line in tail))
        sys.stdout.flush()
    if args.follow:
        _follow(path, fh)
    elif fh is not None:
        fh.close()
    return 0


def _follow(path: Path, fh: TextIO | None) -> None:
    """Print lines appended to the log, across rotations, until interrupted."""
    inode = os.fstat(fh.fileno()).st_ino if fh is not None else None
    try:
        while True:
            try:
                st = path.stat()
            except FileNotFoundError:
                st = None
            if st is not None and (fh is None or st.st_ino != inode or st.st_size < fh.tell()):
                if fh is not None:
                    sys.stdout.write(fh.read())  # the rest of the rotated file
                    fh.close()
                fh = open(path, errors="replace")  # noqa: SIM115
                inode = st.st_ino
            if fh is not None:
                chunk = fh.read()
                if chunk:
                    sys.stdout.write(chunk)
                    sys.stdout.flush()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if fh is not None:
            fh.close()
