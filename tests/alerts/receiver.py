"""A real HTTP receiver on 127.0.0.1 for delivery tests: it records every request and answers
from a plan (status, headers, body, delay), then with a default answer."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds before answering (longer than the client's time-out: a time-out)


@dataclass
class Request:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    at: float  # time.monotonic() when it arrived
    answer: Answer
    accepted: bool = False  # a 2xx was written to a client that was still there


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self, port: int | None = None, default: Answer | None = None):
        self.port = port or free_port()
        self.default = default or Answer()
        self.plan: list[Answer] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    answer = receiver.plan.pop(0) if receiver.plan else receiver.default
                    request = Request(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        time.monotonic(),
                        answer,
                    )
                    receiver.requests.append(request)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                    self.wfile.flush()
                except OSError:
                    return
                # A client that gave up (time-out) has closed its end: it did not get this answer.
                if 200 <= answer.status < 300 and not answer.delay:
                    request.accepted = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def then(self, *answers: Answer) -> None:
        with self.lock:
            self.plan.extend(answers)

    def accepted_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(r.headers.get("webhook-id", "") for r in self.requests if r.accepted)

    def snapshot(self) -> list[Request]:
        with self.lock:
            return list(self.requests)
