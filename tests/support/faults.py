"""Network faults the HTTP server cannot produce: a port whose connections are never accepted."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def unaccepting_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A listening port whose accept queue is full, so a new connect hangs until it times out.

    The socket listens with a backlog of 0 and is never accept()ed; filler connections are
    opened until one no longer completes (Linux then drops further SYNs: a real connect
    timeout, not a refused connection).
    """
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        server.bind((host, 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(16):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect((host, port))
            except TimeoutError:
                break
        else:
            raise RuntimeError("could not fill the accept queue of a backlog-0 socket")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()
