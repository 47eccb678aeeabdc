"""A scripted, hostile HTTP server on 127.0.0.1: slow drips, huge answers, whatever a test writes."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[["Handler"], None]
"""Writes the whole answer (status line, headers, body) to ``handler.wfile``."""


class Handler(BaseHTTPRequestHandler):
    """Logs each request on the server, then lets the test's ``answer`` write the reply."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.server.owner.requests.append((self.command, self.path))
        self.close_connection = True
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            self.server.owner.answer(self)

    do_GET = do_POST = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HostileServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients hang up on purpose."""


class HostileServer:
    """Serve ``answer`` for every request until the ``with`` block ends.

    :param answer: writes one reply; see :func:`drip` and :func:`huge`.
    """

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[str, str]] = []
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/api"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()


def drip(
    body: bytes = b'{"detail": "' + b"x" * 60 + b'"}', *, every: float = 0.5, headers_too: bool = False
) -> Answer:
    """Return an answer that sends one byte every ``every`` seconds (the body only, or the headers too)."""

    def answer(handler: Handler) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        if not headers_too:
            handler.wfile.write(head)
            handler.wfile.flush()
            head = b""
        for i in range(len(head + body)):
            handler.wfile.write((head + body)[i : i + 1])
            handler.wfile.flush()
            time.sleep(every)

    return answer


def huge(size: int, *, declared: bool = True, status: int = 200) -> Answer:
    """Return an answer with a ``size``-byte JSON body (Content-Length given, or chunked without one)."""
    chunk = b" " * (1 << 20)

    def answer(handler: Handler) -> None:
        length = f"Content-Length: {size + 2}\r\n" if declared else "Transfer-Encoding: chunked\r\n"
        handler.wfile.write(
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n{length}\r\n".encode()
        )
        parts = [b"["] + [chunk] * (size // len(chunk)) + [b" " * (size % len(chunk)), b"]"]
        for part in parts:
            if not part:
                continue
            handler.wfile.write(part if declared else b"%x\r\n%s\r\n" % (len(part), part))
        if not declared:
            handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    return answer
