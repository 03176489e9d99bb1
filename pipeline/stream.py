"""The streaming pass of an unsharded run: poll, extract and process overlap.

Feeds are polled `threads` at a time ("poll <feed>" stages, as `pipeline.run.poll_feeds`). As
each feed finishes, its entries go to extraction through a bounded queue (`fetch.stream_queue`
pages): a full queue holds the polling back, and the harvest keeps no page once its entries are
queued. One extraction stage (`monitors.extract.serve_jobs`: the pass's worker pool, fed as
pages come) hands each text to the process stage, which gathers them into chunks of
`fetch.stream_chunk` articles and processes each chunk as one batch ("process" stages, one per
chunk, each under `serial()`), while the next chunk is being extracted. Memory therefore
follows the queue, the feeds being polled and one chunk, not the batch.

Grouping order: `process_batch` sorts a chunk by (published, feed, URL). A pass whose articles
fit in one chunk (a scheduled pass, a replay step) is processed exactly as the batch pass did:
one batch with any candidates left staged by shard runs. A bigger pass (a first poll) is
processed chunk by chunk as extraction finishes them, each chunk sorted; an article of a later
chunk is grouped after the articles of earlier chunks even when it was published before them.

An entry listed by several feeds is fetched once (the first feed to claim it) and processed
with that page's text: the other feeds' entries wait for it, or, when its chunk is already
stored, take the text stored with it. Validators are saved by the caller after the last chunk
(`save_validators`), so a run killed mid-way re-fetches every feed it polled and skips what
its stored chunks hold.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.config import MonitorConfig
from monitors.extract import END, NOTHING, ExtractJob, serve_jobs
from monitors.httpclient import Fetcher
from monitors.records import ExtractedText, FeedItem
from pipeline.extract import Candidate
from pipeline.harvest import ALREADY_CLAIMED, Harvest, harvest_feed
from pipeline.process import ArticleOutcome, process_batch
from pipeline.stage import StagedBatch, leftover_batch
from storage import repository as repo

#: Processes one chunk (the final one: with staged leftovers): (candidates, final) -> (the
#: batch processed, its outcomes).
ProcessChunk = Callable[[list[Candidate], bool], tuple[StagedBatch, list[ArticleOutcome]]]
#: How often a blocked queue put or get looks whether the pass is being stopped (seconds).
STOP_POLL = 0.2


class Stopped(Exception):
    """The streaming pass is stopping (another of its stages failed)."""


@dataclass
class StreamReport:
    """What the extraction stage of a streaming pass did (the "extract" stage's result)."""

    extracted: int = 0
    from_page: int = 0
    #: entries whose page was fetched (extracted by a worker)
    pages: int = 0
    #: the most pages queued for or in extraction at once (bound: queue + 2 x workers)
    most_pages_held: int = 0
    pages_held: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def held(self, change: int) -> None:
        """Count pages entering (+1) or leaving (-1) the extraction queue and pool."""
        with self.lock:
            self.pages_held += change
            self.most_pages_held = max(self.most_pages_held, self.pages_held)


@dataclass
class Streamed:
    """What the streaming pass hands back to `run_pass`: harvests in feed order, outcomes,
    the final batch (for the summary's note on staged leftovers) and the extraction report."""

    harvests: list[Harvest]
    outcomes: list[ArticleOutcome]
    batch: StagedBatch
    report: StreamReport
    chunks: int = 0


@dataclass
class _Entry:
    item: FeedItem
    job: ExtractJob
    changed: bool


def _put(q: queue.Queue[Any], obj: object, stop: threading.Event) -> None:
    """Put into a bounded queue, waiting while it is full unless the pass is stopping."""
    while True:
        if stop.is_set():
            raise Stopped
        try:
            q.put(obj, timeout=STOP_POLL)
            return
        except queue.Full:
            continue


def extract_stream(
    jobs: queue.Queue[Any],
    texts: queue.Queue[Any],
    stop: threading.Event,
    report: StreamReport,
    *,
    timeout_seconds: float = 20.0,
) -> StreamReport:
    """Extract the entries of `jobs` until END, putting each (entry, text) on `texts`."""

    def take(wait: float) -> tuple[_Entry, ExtractJob] | object:
        if stop.is_set():
            return END
        try:
            got = jobs.get(timeout=wait) if wait > 0 else jobs.get_nowait()
        except queue.Empty:
            return NOTHING
        return END if got is END else (got, got.job)

    def put(entry: _Entry, text: ExtractedText) -> None:
        if entry.job.html is not None:
            report.held(-1)
            report.pages += 1
        report.extracted += 1
        report.from_page += text.source == "page"
        _put(texts, (entry, text), stop)

    serve_jobs(take, put, timeout_seconds=timeout_seconds)
    return report


class _Chunks:
    """The process side: gathers extracted entries into chunks and processes each."""

    def __init__(self, cfg: MonitorConfig, engine: Engine, process: ProcessChunk) -> None:
        self.cfg, self.engine, self.process = cfg, engine, process
        self.buffer: list[Candidate] = []
        self.texts: dict[str, ExtractedText] = {}  # of the buffer's own pages, by URL
        self.waiting: dict[str, list[Candidate]] = {}  # claimed elsewhere, claimer not here yet
        self.late: list[Candidate] = []  # claimed elsewhere, claimer in a processed chunk
        self.processed: set[str] = set()  # URLs of earlier chunks' own entries
        self.outcomes: list[ArticleOutcome] = []
        self.chunks = 0

    def add(self, entry: _Entry, text: ExtractedText) -> None:
        """One extracted entry; an entry claimed by another feed takes that feed's text."""
        cand = Candidate(item=entry.item, text=text, changed=entry.changed)
        url = entry.item.url
        if entry.job.fetch_error != ALREADY_CLAIMED:
            self.buffer.append(cand)
            self.texts[url] = text
            for other in self.waiting.pop(url, []):
                other.text = text
                self.buffer.append(other)
        elif url in self.texts:
            cand.text = self.texts[url]
            self.buffer.append(cand)
        elif url in self.processed:
            self.late.append(cand)
        else:
            self.waiting.setdefault(url, []).append(cand)

    def pending(self) -> int:
        """Candidates gathered and not processed yet."""
        return len(self.buffer) + len(self.late)

    def flush(self, *, final: bool) -> StagedBatch:
        """Process what is gathered as one batch (the final one with any staged leftovers)."""
        if final:  # claimers that never came (their feed's poll failed): their own fallback
            self.buffer += [c for cands in self.waiting.values() for c in cands]
            self.waiting = {}
        chunk, self.buffer = self.buffer, []
        chunk += self._resolve_late()
        self.processed.update(self.texts)
        self.texts = {}
        batch, outcomes = self.process(chunk, final)
        self.outcomes += outcomes
        self.chunks += bool(outcomes or batch.candidates)
        return batch

    def _resolve_late(self) -> list[Candidate]:
        late, self.late = self.late, []
        if not late:
            return []
        with Session(self.engine) as s:
            found = repo.find_known_items(
                s, monitor=self.cfg.name, urls=[c.item.url for c in late], guids=[]
            )
            for cand in late:
                a = found.get(cand.item.url)
                if a is not None:
                    cand.text = ExtractedText(
                        url=a.url, title=a.title, text=a.text or "",
                        source="page" if a.text_source == "page" else "summary",
                        author=a.author, sitename=a.sitename, language=a.language,
                        note=a.extraction_note,
                    )  # fmt: skip
        return late


def stream_pass(
    cfg: MonitorConfig,
    engine: Engine,
    fetcher: Fetcher,
    feeds: list[str],
    *,
    now: datetime,
    runner: Any,
    threads: int,
    run_id: int | None,
    run_url: str | None,
    serial: Callable[[], AbstractContextManager[object]],
) -> Streamed:
    """Poll `feeds`, extract and process their new entries as they come (module docstring)."""
    jobs: queue.Queue[Any] = queue.Queue(maxsize=cfg.fetch.stream_queue)
    texts: queue.Queue[Any] = queue.Queue(maxsize=cfg.fetch.stream_chunk)
    stop = threading.Event()
    report = StreamReport()
    left = [len(feeds)]
    lock = threading.Lock()

    def poll(name: str) -> Harvest:
        try:
            h: Harvest = runner(f"poll {name}", harvest_feed, cfg, engine, fetcher,
                                feed_name=name, now=now)  # fmt: skip
            for e in h.items:
                entry = _Entry(item=e.item, job=e.job, changed=e.changed)
                e.job = replace(e.job, html=None)  # the harvest keeps no page
                _put(jobs, entry, stop)
                if entry.job.html is not None:
                    report.held(+1)
            return h
        except BaseException:
            stop.set()
            raise
        finally:
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last and not stop.is_set():
                _put(jobs, END, stop)

    def extract() -> StreamReport:
        try:
            result: StreamReport = runner("extract", extract_stream, jobs, texts, stop, report)
            return result
        except BaseException:
            stop.set()
            raise
        finally:
            if not stop.is_set():
                _put(texts, END, stop)

    def process(chunk: list[Candidate], final: bool) -> tuple[StagedBatch, list[ArticleOutcome]]:
        with serial():
            batch = leftover_batch(cfg, engine, chunk) if final else StagedBatch(chunk)
            outcomes: list[ArticleOutcome] = []
            if batch.candidates or (final and not chunks.chunks):  # a pass: one stage at least
                outcomes = runner("process", process_batch, cfg, engine, batch.candidates,
                                  run_id=run_id, now=now, run_url=run_url,
                                  **batch.hooks())  # fmt: skip
            batch.settle(engine)
        return batch, outcomes

    chunks = _Chunks(cfg, engine, process)
    if not feeds:
        jobs.put(END)
    with ThreadPoolExecutor(max_workers=min(threads, max(1, len(feeds))) + 1) as pool:
        # extraction first: it must have its thread before the polls take the others
        extraction = pool.submit(contextvars.copy_context().run, extract)
        polls = [pool.submit(contextvars.copy_context().run, poll, n) for n in feeds]
        try:
            _consume(texts, chunks, cfg.fetch.stream_chunk, [*polls, extraction])
            harvests = [f.result() for f in polls]
            extraction.result()
            batch = chunks.flush(final=True)
        except BaseException:
            stop.set()
            raise
    return Streamed(harvests, chunks.outcomes, batch, report, chunks.chunks)


def _consume(
    texts: queue.Queue[Any], chunks: _Chunks, size: int, workers: list[Future[Any]]
) -> None:
    """Gather extracted entries, processing a chunk whenever `size` are gathered, until END."""
    while True:
        try:
            got = texts.get(timeout=STOP_POLL)
        except queue.Empty:
            for f in workers:
                if f.done() and f.exception() is not None:
                    f.result()  # a poll or the extraction failed: fail the pass with it
            continue
        if got is END:
            return
        chunks.add(*got)
        if chunks.pending() >= size:
            chunks.flush(final=False)
