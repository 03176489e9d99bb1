"""A tiny HTTP server for the bundled sample feeds (`samples/`), so `make run` works offline.

Serves the files under a root folder (GET and HEAD; nothing outside the root; 404 otherwise),
replaces the `{{BASE}}` placeholder in .xml and .html bodies with the server's own
`http://host:port`, and answers conditional requests (ETag of the served body, Last-Modified of
the file) with 304. Logging is quiet: requests go to the `newsmon.samples` logger at DEBUG.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger("newsmon.samples")

PLACEHOLDER = b"{{BASE}}"
CONTENT_TYPES: dict[str, str] = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
}
REWRITTEN_SUFFIXES = frozenset({".xml", ".html"})
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


class SampleServer(ThreadingHTTPServer):
    """`ThreadingHTTPServer` that serves a sample folder; `base_url` is what `{{BASE}}` becomes."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, host: str, port: int) -> None:
        self.root = root.resolve()
        self.host = host
        super().__init__((host, port), _SampleHandler)

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://host:port` of this server, as substituted for `{{BASE}}`."""
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


class _SampleHandler(BaseHTTPRequestHandler):
    server: SampleServer
    protocol_version = "HTTP/1.1"
    server_version = "newsmon-samples/0.1"
    #: headers and body are two writes: without TCP_NODELAY, Nagle holds the body until the
    #: client's delayed ACK (~40 ms per keep-alive request)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _resolve(self) -> Path | None:
        path = unquote(urlsplit(self.path).path)
        if "\x00" in path or "\\" in path:
            return None
        rel = path.lstrip("/") or "index.txt"
        if any(part in ("..", ".") for part in rel.split("/")):
            return None
        root = self.server.root
        try:
            target = (root / rel).resolve()
        except (OSError, RuntimeError):
            return None
        if not target.is_relative_to(root) or not target.is_file():
            return None
        return target

    def _base_url(self) -> str:
        if self.server.host in _WILDCARD_HOSTS and self.headers.get("Host"):
            return f"http://{self.headers['Host']}"
        return self.server.base_url

    def _send(self, status: int, headers: dict[str, str], body: bytes, *, head: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _serve(self, *, head: bool) -> None:
        target = self._resolve()
        if target is None:
            body = b"not found\n"
            headers = {
                "Content-Type": "text/plain; charset=utf-8",
                "Content-Length": str(len(body)),
            }
            self._send(HTTPStatus.NOT_FOUND, headers, body, head=head)
            return
        try:
            data = target.read_bytes()
            mtime = int(target.stat().st_mtime)
        except OSError:
            body = b"not found\n"
            headers = {
                "Content-Type": "text/plain; charset=utf-8",
                "Content-Length": str(len(body)),
            }
            self._send(HTTPStatus.NOT_FOUND, headers, body, head=head)
            return
        suffix = target.suffix.lower()
        if suffix in REWRITTEN_SUFFIXES:
            data = data.replace(PLACEHOLDER, self._base_url().encode("utf-8"))
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        headers = {
            "ETag": etag,
            "Last-Modified": formatdate(mtime, usegmt=True),
            "Cache-Control": "no-cache",
        }
        if _not_modified(
            self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"), etag, mtime
        ):
            self._send(HTTPStatus.NOT_MODIFIED, headers, b"", head=True)
            return
        headers["Content-Type"] = CONTENT_TYPES.get(suffix, "application/octet-stream")
        headers["Content-Length"] = str(len(data))
        self._send(HTTPStatus.OK, headers, data, head=head)


def _not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, mtime: int
) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if if_none_match is not None:
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return mtime <= since.timestamp()
    return False


def make_sample_server(
    root: Path, *, host: str = "127.0.0.1", port: int = 8765
) -> ThreadingHTTPServer:
    """Bind (but do not start) a server for the sample folder `root`; port 0 picks a free port.

    Call `serve_forever()` on the result (e.g. in a thread) and `shutdown()`/`server_close()` to
    stop it. Raises FileNotFoundError when `root` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root}: sample folder not found (regenerate it with "
            "`python -m scripts.build_samples`)"
        )
    return SampleServer(root, host, port)


def serve_samples(root: Path, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the sample folder `root` on host:port until interrupted (blocking)."""
    server = make_sample_server(root, host=host, port=port)
    base = server.base_url if isinstance(server, SampleServer) else f"http://{host}:{port}"
    print(f"Serving sample feeds from {Path(root).resolve()} at {base}/index.txt", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def start_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Run `server.serve_forever()` in a daemon thread and return the thread (tests, embedding)."""
    thread = threading.Thread(target=server.serve_forever, name="newsmon-samples", daemon=True)
    thread.start()
    return thread
