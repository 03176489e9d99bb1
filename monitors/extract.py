"""Bounded full-text extraction of article pages with trafilatura, falling back to the feed.

trafilatura (lxml underneath) can take seconds or hang on a pathological page, and a hang in C
code cannot be interrupted from Python. `extract_articles` therefore runs extraction in worker
processes, each a fresh interpreter (the 'spawn' model, never fork: the caller has threads), and
kills a worker that exceeds the per-page timeout, then replaces it. One pool serves a whole call
(`extract_articles` a list, `serve_jobs` a stream of jobs as they come, for the streaming pass);
no process is started when no job has HTML. A page that could not be fetched, timed out, failed,
or yielded too little text falls back to the feed's title and summary, with a note saying why.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing.connection
import os
import pickle
import re
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, TypeVar, cast

from monitors.records import ExtractedText

#: Seconds a new worker may take to start and import trafilatura before extraction is given
#: up for the batch (measured: about 0.5 s on the 2-core machine, more under load).
STARTUP_TIMEOUT = 60.0
#: Workers that die before they are ready, in a row, before extraction is given up for the
#: batch (instead of respawning forever when a worker cannot start at all).
MAX_START_FAILURES = 2
#: Seconds a worker is given to exit after being asked to, before it is killed.
SHUTDOWN_GRACE = 2.0
#: Seconds `serve_jobs` waits for input when no worker is busy, and looks for input at least
#: this often while a worker is free.
INPUT_WAIT = 0.5
INPUT_POLL = 0.02
#: What `serve_jobs`' `take` returns when no job came within its wait / when no job will come.
NOTHING = object()
END = object()
K = TypeVar("K")

Extractor = Callable[[bytes, str], ExtractedText | None]

_HTML_LANG = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*)", re.I)
_WORKERS_STARTED = 0  # processes started by this module (read by tests)


@dataclass(frozen=True, slots=True)
class ExtractJob:
    """One page to extract, with the feed's title and summary to fall back on."""

    url: str
    html: bytes | None
    fallback_title: str
    fallback_summary: str
    fetch_error: str | None = None


def _date(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def extract_one(html: bytes, url: str) -> ExtractedText | None:
    """Extract main text and metadata of one page in this process; None if nothing found.

    Used by the worker processes and by `newsmon explain` on a local HTML file.
    """
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
    )
    if doc is None:
        return None
    text = (getattr(doc, "text", None) or "").strip()
    if not text:
        return None
    language = getattr(doc, "language", None)
    if not language:
        m = _HTML_LANG.search(html[:4096])
        language = m.group(1).decode("ascii").lower() if m else None
    return ExtractedText(
        url=url,
        title=(getattr(doc, "title", None) or "").strip(),
        text=text,
        source="page",
        author=getattr(doc, "author", None) or None,
        published=_date(getattr(doc, "date", None)),
        sitename=getattr(doc, "sitename", None) or None,
        language=language,
    )


# --- worker processes ----------------------------------------------------------------------
# Workers are fresh interpreters (`python -m monitors.extract`), the 'spawn' model without
# multiprocessing's re-import of the caller's __main__ module: under the newsmon CLI or a Prefect
# worker that re-import pulls in Prefect and costs seconds per worker. Jobs and results travel
# as length-prefixed pickle frames over the worker's stdin/stdout.
_FRAME = struct.Struct("!Q")


def _send(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)) + data)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError("worker closed its pipe")
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("worker closed its pipe mid-message")
    return pickle.loads(data)


def _extractor_name(extractor: Extractor) -> str:
    name = f"{extractor.__module__}:{extractor.__qualname__}"
    if "<" in name:
        raise ValueError(f"extractor must be a module-level function, got {name}")
    return name


def _load_extractor(name: str) -> Extractor:
    module, _, attr = name.partition(":")
    fn: Extractor = getattr(importlib.import_module(module), attr)
    return fn


def _serve(extractor_name: str) -> None:
    """Worker loop: load the extractor, say ready, then extract (index, html, url) jobs."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from libraries go to stderr, not into the protocol
    inp = sys.stdin.buffer
    with contextlib.suppress(ImportError):  # warm the import before the first timed job
        import trafilatura  # noqa: F401
    extractor = _load_extractor(extractor_name)
    _send(out, ("ready",))
    while True:
        try:
            msg = _recv(inp)
        except EOFError:
            return
        if msg is None:
            return
        index, html, url = msg
        try:
            _send(out, (index, True, extractor(html, url)))
        except Exception as exc:
            _send(out, (index, False, f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, extractor_name: str) -> None:
        global _WORKERS_STARTED
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitors.extract", extractor_name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        _WORKERS_STARTED += 1
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        self.ready = False
        self.job: tuple[Any, ExtractJob] | None = None  # (the caller's key, the job)
        self.since = time.monotonic()

    def assign(self, job: ExtractJob) -> None:
        self.since = time.monotonic()
        _send(self.stdin, (0, job.html, job.url))

    def exitcode(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(SHUTDOWN_GRACE)
        return self.proc.returncode

    def kill(self) -> None:
        self.proc.kill()
        self.exitcode()
        self._close()

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            _send(self.stdin, None)
        if self.exitcode() is None:
            self.kill()
        self._close()

    def _close(self) -> None:
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()


def _fallback(job: ExtractJob, note: str) -> ExtractedText:
    return ExtractedText(
        url=job.url,
        title=job.fallback_title,
        text=job.fallback_summary,
        source="summary",
        note=note,
    )


def _finish(job: ExtractJob, ok: bool, payload: Any, min_chars: int) -> ExtractedText:
    if not ok:
        return _fallback(job, f"extraction failed: {payload}")
    if payload is None:
        return _fallback(job, "no article text found on the page")
    result: ExtractedText = payload
    if len(result.text) < min_chars:
        return _fallback(job, f"extracted text too short ({len(result.text)} chars)")
    result.url = job.url
    result.title = result.title or job.fallback_title
    return result


def extract_articles(
    jobs: list[ExtractJob],
    *,
    timeout_seconds: float = 20.0,
    min_chars: int = 200,
    workers: int = 2,
    extractor: Extractor = extract_one,
) -> list[ExtractedText]:
    """Extract every job's page in a pool of worker processes; results in input order.

    Each page gets `timeout_seconds`; a worker over time is killed and replaced. Jobs without
    HTML, failures, timeouts and texts shorter than `min_chars` fall back to the feed summary
    (source="summary", `note` says why). `extractor` must be a module-level function (it is
    pickled into the workers); tests use it to inject a genuinely slow extraction.
    """
    results: list[ExtractedText | None] = [None] * len(jobs)
    pending = iter(enumerate(jobs))

    def take(wait: float) -> tuple[int, ExtractJob] | object:
        return next(pending, END)

    def put(key: int, text: ExtractedText) -> None:
        results[key] = text

    serve_jobs(take, put, timeout_seconds=timeout_seconds, min_chars=min_chars,
               workers=workers, extractor=extractor)  # fmt: skip
    return [
        r if r is not None else _fallback(jobs[i], "not extracted") for i, r in enumerate(results)
    ]


def serve_jobs(
    take: Callable[[float], tuple[K, ExtractJob] | object],
    put: Callable[[K, ExtractedText], None],
    *,
    timeout_seconds: float = 20.0,
    min_chars: int = 200,
    workers: int = 2,
    extractor: Extractor = extract_one,
) -> None:
    """Extract jobs as `take(wait)` hands them out, `put(key, text)` each result as it ends.

    `take` returns a `(key, job)`, NOTHING (none within `wait` seconds) or END (no more). At
    most `workers` jobs are taken ahead of the workers, so a caller's bounded queue bounds the
    pages held. Workers start on the first job with HTML; the rules of `extract_articles`."""
    name = _extractor_name(extractor)
    pool: list[_Worker] = []
    todo: deque[tuple[K, ExtractJob]] = deque()
    ended, broken, start_failures = False, "", 0

    def give_up(note: str) -> None:
        nonlocal broken
        broken = note
        while todo:
            key, job = todo.popleft()
            put(key, _fallback(job, note))

    def fail(w: _Worker, note: str) -> None:
        if w.job is not None:
            put(w.job[0], _fallback(w.job[1], note))
            w.job = None
        w.kill()
        pool.remove(w)

    try:
        while True:
            while not ended and len(todo) < max(1, workers):
                busy = any(not w.ready or w.job is not None for w in pool)
                got = take(0.0 if busy or todo else INPUT_WAIT)
                if got is END:
                    ended = True
                elif got is NOTHING:
                    break
                else:
                    key, job = cast(tuple[K, ExtractJob], got)
                    if job.html is None:
                        put(
                            key,
                            _fallback(
                                job, f"page fetch failed: {job.fetch_error or 'not fetched'}"
                            ),
                        )
                    elif broken:
                        put(key, _fallback(job, broken))
                    else:
                        todo.append((key, job))
            idle = [w for w in pool if w.ready and w.job is None]
            starting = sum(not w.ready for w in pool)
            while len(todo) > len(idle) + starting and len(pool) < max(1, workers):
                pool.append(_Worker(name))
                starting += 1
            for w in idle:
                if not todo:
                    break
                w.job = todo.popleft()
                try:
                    w.assign(w.job[1])
                except (OSError, ValueError):  # the worker died while idle
                    fail(w, f"extraction worker crashed (exit code {w.exitcode()})")
            waiting = [w for w in pool if not w.ready or w.job is not None]
            if not waiting:
                if ended and not todo:
                    return
                continue
            limits = [w.since + (timeout_seconds if w.ready else STARTUP_TIMEOUT) for w in waiting]
            wait_for = max(0.0, min(limits) - time.monotonic())
            if not ended and len(todo) < max(1, workers):  # room to take more: look for input
                wait_for = min(wait_for, INPUT_POLL)
            readable = multiprocessing.connection.wait(
                [w.stdout.fileno() for w in waiting], wait_for
            )
            for w in list(pool):
                if w.stdout.fileno() not in readable:
                    continue
                try:
                    msg = _recv(w.stdout)
                except (EOFError, OSError, pickle.UnpicklingError):
                    if not w.ready:  # died while starting (e.g. trafilatura not importable)
                        start_failures += 1
                        if start_failures >= MAX_START_FAILURES:
                            give_up(
                                "extraction workers failed to start "
                                f"(exit code {w.exitcode()}); see the log"
                            )
                    fail(w, f"extraction worker crashed (exit code {w.exitcode()})")
                    continue
                if msg == ("ready",):
                    w.ready = True
                    start_failures = 0
                    continue
                _, ok, payload = msg
                if w.job is not None:
                    key, job = w.job
                    w.job = None
                    put(key, _finish(job, ok, payload, min_chars))
            now = time.monotonic()
            for w in list(pool):
                if w.job is not None and now - w.since >= timeout_seconds:
                    fail(w, f"extraction timed out after {timeout_seconds:g}s")
                elif not w.ready and now - w.since >= STARTUP_TIMEOUT:
                    give_up(f"extraction worker did not start within {STARTUP_TIMEOUT:g}s")
                    fail(w, "")
    finally:
        for w in pool:
            if w.job is None and w.ready:
                w.stop()
            else:
                w.kill()


if __name__ == "__main__":  # a worker: python -m monitors.extract MODULE:FUNCTION
    _serve(sys.argv[1])
