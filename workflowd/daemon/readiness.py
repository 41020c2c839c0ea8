"""Telling whoever started the daemon that it is ready, or why it could not start.

``workflowd start`` passes the detached daemon the write end of a pipe (``--ready-fd``); the
daemon writes one JSON line once its config, pipelines, plugins, sources and base model are
in order (``{"ready": true}``), or the reason it stops (``{"ready": false, "error", "kind"}``),
and closes it. Under systemd (``Type=notify``) it also says ``READY=1`` on ``$NOTIFY_SOCKET``.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
from typing import Any

from ..errors import ConfigError, DaemonError, PluginError, WorkflowdError


def error_kind(exc: BaseException) -> str:
    """``config`` and ``plugin`` errors exit with code 2; anything else with 1."""
    if isinstance(exc, ConfigError):
        return "config"
    if isinstance(exc, PluginError):
        return "plugin"
    return "error"


class Readiness:
    """The daemon's side. Every method may be called any number of times: the first answer counts."""

    def __init__(self, fd: int | None = None):
        self._fd = fd

    def ready(self, **info: Any) -> None:
        self._send({"ready": True, **info})
        _sd_notify("READY=1")

    def failed(self, exc: BaseException) -> None:
        reason = str(exc) if isinstance(exc, WorkflowdError) else f"{type(exc).__name__}: {exc}"
        self._send({"ready": False, "error": reason, "kind": error_kind(exc)})
        _sd_notify(f"STATUS=cannot start: {reason.splitlines()[0] if reason else ''}")

    def _send(self, message: dict[str, Any]) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.write(fd, json.dumps(message).encode("utf-8") + b"\n")
        except OSError:
            pass  # `workflowd start` gave up waiting (or was interrupted): nobody to tell
        finally:
            os.close(fd)


def _sd_notify(state: str) -> None:
    """One datagram to systemd's notify socket, when there is one (Type=notify)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or not address.startswith(("/", "@")):
        return
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode("utf-8", "replace"), address)
    except OSError:
        pass


def wait_ready(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """The parent's side: read the daemon's answer from ``fd`` (then closed). Returns the ready
    message; raises ConfigError / PluginError / DaemonError with the daemon's reason, or
    DaemonError when it died without one or did not answer within ``timeout``."""
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DaemonError(f"the daemon (pid {proc.pid}) did not say it was ready within {timeout:.0f} s")
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break  # the daemon closed the pipe (or died) without an answer
            data += chunk
    finally:
        os.close(fd)
    try:
        message = json.loads(data.split(b"\n", 1)[0]) if data.strip() else None
    except ValueError:
        message = None
    if not isinstance(message, dict):
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        raise DaemonError(f"the daemon exited at start (code {code}) without saying why")
    if message.get("ready"):
        return message
    reason = str(message.get("error") or "unknown error")
    kind = message.get("kind")
    if kind == "config":
        raise ConfigError(reason)
    if kind == "plugin":
        raise PluginError(reason)
    raise DaemonError(reason)
