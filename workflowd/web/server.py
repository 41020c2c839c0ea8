"""The web server in a thread of the daemon (uvicorn), bound before the daemon says it started."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from ..config import LOOPBACK_HOSTS, Settings
from ..errors import DaemonError
from .app import WebContext, create_app
from .auth import ensure_token

log = logging.getLogger("workflowd.web")


class WebServer(threading.Thread):
    """Serves the page and the API until ``stop()``. The socket is bound in ``bind()`` (in the
    daemon's start, so a port in use is a clear error there); the thread then serves it."""

    def __init__(self, settings: Settings, *, encode: Callable[[str], Any] | None = None,
                 status: Callable[[], dict[str, Any]] | None = None):
        super().__init__(name="workflowd-web", daemon=True)
        self.settings = settings
        self.context = WebContext(settings, ensure_token(settings.web_token_path), encode=encode, status=status)
        self.server: Any = None
        self.sock: socket.socket | None = None
        self._stopping = threading.Event()  # a stop asked before the server was made: do not serve

    @property
    def url(self) -> str:
        host = self.settings.web.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.context.port}/"

    def bind(self) -> None:
        web = self.settings.web
        family = socket.AF_INET6 if ":" in web.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((web.host, web.port))
        except OSError as exc:
            sock.close()
            raise DaemonError(
                f"the web page cannot listen on {web.host}:{web.port}: {exc.strerror or exc} "
                "(set [web] port to another one, 0 for any free port, or enabled = false)"
            ) from None
        sock.listen(64)
        sock.set_inheritable(False)
        self.sock = sock
        self.context.port = sock.getsockname()[1]
        if web.host not in LOOPBACK_HOSTS:
            log.warning("the web page listens on %s, which other machines can reach (web.allow_remote = true); "
                        "the token is still needed", self.url)
        else:
            log.info("web page: %s (workflowd open logs a browser in)", self.url)

    def run(self) -> None:
        config = uvicorn.Config(create_app(self.context), log_level="warning", access_log=False,
                                lifespan="off", server_header=False, date_header=False)
        self.server = QuietServer(config)
        if self._stopping.is_set():
            return
        assert self.sock is not None
        self.server.run(sockets=[self.sock])

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()  # before reading self.server: run() either sees this or is seen
        if self.server is not None:
            self.server.wake_to_exit()
        self.join(timeout=timeout)
        if self.sock is not None:
            self.sock.close()


class QuietServer(uvicorn.Server):
    """uvicorn's server without its 10-a-second tick (which only refreshes the Date header, off
    here, and counts requests for a limit not set): an idle daemon stays asleep. It waits for
    ``wake_to_exit()`` instead; the daemon's own signal handlers stay."""

    def install_signal_handlers(self) -> None:
        pass

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        if not self.should_exit:
            await self._exit.wait()

    def wake_to_exit(self) -> None:
        self.should_exit = True
        loop, event = getattr(self, "_loop", None), getattr(self, "_exit", None)
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)
