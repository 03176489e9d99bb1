"""A real local HTTP server for tests: feeds, article pages, fault injection, a webhook sink.

Routes map a path to a handler `(request) -> Response` or a fixed `Response`. A handler may also
write to `request.handler.wfile` itself (e.g. to drip bytes) and return None.
Every request is recorded in `server.requests`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    handler: BaseHTTPRequestHandler


Handler = Callable[[Request], Response | None]


class LocalHTTPServer:
    """Threaded HTTP server on 127.0.0.1 (or another loopback address) on a free port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Handler | Response] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body are two writes: without TCP_NODELAY, Nagle holds the body
            # until the client's delayed ACK (~40 ms per keep-alive request)
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, self.path, dict(self.headers.items()), body, self)
                with outer._lock:
                    outer.requests.append(req)
                route = outer.routes.get(self.path) or outer.routes.get(self.path.split("?")[0])
                if route is None:
                    resp: Response | None = Response(404, b"not found")
                elif isinstance(route, Response):
                    resp = route
                else:
                    try:
                        resp = route(req)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                if resp is None:
                    return
                try:
                    self.send_response(resp.status)
                    headers = {"Content-Type": resp.content_type, **resp.headers}
                    if "Content-Length" not in headers:
                        headers["Content-Length"] = str(len(resp.body))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(resp.body)
                except (BrokenPipeError, ConnectionResetError):
                    return

            do_GET = _serve
            do_POST = _serve
            do_HEAD = _serve

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # a client that drops a keep-alive connection early is not a test failure
                import sys

                if isinstance(sys.exc_info()[1], ConnectionError):
                    return
                super().handle_error(request, client_address)

        self.httpd = _Server((host, 0), _H)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, handler: Handler | Response) -> None:
        self.routes[path] = handler

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def start(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
