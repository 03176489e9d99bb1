"""Benchmark of fetching (issue 3): a first poll of many feeds, then a re-poll with nothing new.

    .venv/bin/python -m scripts.bench_fetch [--feeds 200 --items 50] [--threads 8]
        [--cross-listed N] [--quick]

A real local news site: `--feeds` RSS feeds of `--items` entries each, spread over 8 loopback
addresses (127.0.0.2 ... 127.0.0.9, one ThreadingHTTPServer each, so the fetcher sees 8 hosts
and applies its per-host limit to each). The servers run in a child process (forked before any
thread starts) so their request handling does not share the pipeline's GIL. Feeds answer
conditional requests (If-None-Match / If-Modified-Since) with 304; feeds and pages are gzipped
when asked, as news sites do.

Article pages are built from real text: consecutive rss2023 entries of one outlet (title +
description; `/work/shared/corpora/rss2023`, else `../shared/corpora/rss2023` next to the
checkout) make one multi-paragraph page (headline, standfirst, body, cross-heads) inside a
news-site layout (head with JSON-LD and inline scripts, navigation, related links, footer).
Without the corpus the bundled `samples/articles/**.html` texts are used instead.

Every pass is `pipeline.run.run_pass(force=True)` on a fresh SQLite database in a temporary
directory, with `--threads` feeds polled at once through one shared `Fetcher` and a stage
runner that times each stage (prepare, poll per feed, extract, process, health, deliver).
Reported per
pass: wall time and per stage, HTTP requests and bytes received (the Fetcher's counters), feed
and page requests and 304s counted at the server, and extraction calls (ExtractJobs that had
HTML). A third pass re-polls with the server ignoring validators (200 with the same body: a
server without ETag/Last-Modified, or the periodic unconditional fetch). The re-polls must make
no extraction call and no page request (exit 1 otherwise); the 304 re-poll's wall time is
reported as a percentage of the first poll (target: at most 5%). `--cross-listed N` lists N
entries of each feed in a second feed of the same host, to count duplicate page fetches.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from monitors.httpclient import Fetcher
from monitors.kinds import PollStatus
from pipeline import harvest as harvest_stage
from pipeline.extract import Candidate
from pipeline.harvest import Harvest
from pipeline.run import run_pass
from pipeline.stream import StreamReport
from scripts.bench_fetch_site import (
    BYTES_SENT,
    FEED_304,
    FEED_REQUESTS,
    HOSTS,
    IGNORE_VALIDATORS,
    N_COUNTERS,
    PAGE_REQUESTS,
    REPO,
    Plan,
    _serve_forever,
    build_site,
    make_plan,
)
from storage import repo_feeds
from storage.db import get_engine
from tests.support.httpserver import LocalHTTPServer

#: The re-poll's wall time as a share of the first poll's (issue 3's target).
TARGET_RATIO = 0.05


# --- the passes ----------------------------------------------------------------------------
@dataclass
class PassStats:
    """Measurements of one pass."""

    label: str
    wall: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    bytes_received: int = 0
    server: dict[str, int] = field(default_factory=dict)
    extraction_calls: int = 0
    extracted_from_page: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    stored: int = 0
    thread_seconds: dict[str, float] = field(default_factory=dict)
    cpu: float = 0.0
    forced_full: int = 0  # stored feeds whose periodic unconditional fetch falls on this pass


@contextmanager
def timed_calls(totals: dict[str, float]) -> Iterator[None]:
    """Sum the time threads spend in `poll_feed` and `fetch_pages` inside `harvest_feed`."""
    lock = threading.Lock()
    originals: dict[str, Callable[..., Any]] = {
        "poll_feed": harvest_stage.poll_feed,
        "fetch_pages": harvest_stage.fetch_pages,
    }

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with lock:
                    totals[name] = totals.get(name, 0.0) + time.perf_counter() - t

        return timed

    try:
        for name, fn in originals.items():
            setattr(harvest_stage, name, wrap(name, fn))
        yield
    finally:
        for name, fn in originals.items():
            setattr(harvest_stage, name, fn)


class StageClock:
    """A stage runner for `run_pass` that times each kind of stage and keeps its results."""

    def __init__(self) -> None:
        self.spans: dict[str, list[float]] = {}
        self.results: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, stage: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run the stage; remember when its kind first started and last ended, and its result."""
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        end = time.perf_counter()
        kind = stage.split(" ", 1)[0]
        with self._lock:
            span = self.spans.setdefault(kind, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
            self.results.setdefault(kind, []).append(result)
        return result

    def seconds(self, kind: str) -> float:
        """Wall time from the first start to the last end of the stages of `kind`."""
        start, end = self.spans.get(kind, [0.0, 0.0])
        return end - start


def measure_pass(label: str, cfg: MonitorConfig, counters: Any, *, threads: int) -> PassStats:
    """One pass (`run_pass`, feeds polled `threads` at a time), measured."""
    engine = get_engine(cfg.resolved_database_url)
    with counters.get_lock():
        for i in (FEED_REQUESTS, FEED_304, PAGE_REQUESTS, BYTES_SENT):
            counters[i] = 0
    st = PassStats(label)
    st.forced_full = forced_full_fetches(cfg, engine)
    clock = StageClock()
    cpu0 = _cpu()
    t0 = time.perf_counter()
    with timed_calls(st.thread_seconds), Fetcher(cfg.fetch) as fetcher:
        summary = run_pass(
            cfg,
            engine,
            now=utcnow(),
            force=True,
            runner=clock,
            fetcher=fetcher,
            poll_threads=threads,
        )
        st.requests, st.bytes_received = fetcher.requests, fetcher.bytes_received
    st.wall = time.perf_counter() - t0
    st.cpu = _cpu() - cpu0
    st.stages = {
        "prepare": clock.seconds("prepare"),
        "harvest": clock.seconds("poll"),
        "extract": clock.seconds("extract"),
        "process": clock.seconds("process"),
    }
    harvests: list[Harvest] = clock.results.get("poll", [])
    extracted: list[Candidate] | StreamReport = (clock.results.get("extract") or [[]])[0]
    if isinstance(extracted, StreamReport):  # the streaming pass keeps no page: it counted
        st.extraction_calls, st.extracted_from_page = extracted.pages, extracted.from_page
    else:
        st.extraction_calls = len(
            {e.job.url for h in harvests for e in h.items if e.job.html is not None}
        )
        st.extracted_from_page = sum(c.text.source == "page" for c in extracted)
    st.statuses = Counter(str(h.status) for h in harvests)
    st.stored = summary.new_articles + summary.updated_articles
    with counters.get_lock():
        st.server = {
            "feed_200": counters[FEED_REQUESTS],
            "feed_304": counters[FEED_304],
            "pages": counters[PAGE_REQUESTS],
            "bytes_sent": counters[BYTES_SENT],
        }
    failed = {
        h.feed: h.message for h in harvests if h.status in (PollStatus.FAILED, PollStatus.GONE)
    }
    for name, message in list(failed.items())[:5]:
        print(f"  [{label}] feed {name} failed: {message}", file=sys.stderr)
    return st


def forced_full_fetches(cfg: MonitorConfig, engine: Engine) -> int:
    """Stored feeds whose next poll ignores their validators (`force_full_fetch_every`,
    staggered per feed after its first poll): these answer 200, not 304, on a re-poll."""
    every = cfg.fetch.force_full_fetch_every
    with Session(engine) as s:
        feeds = repo_feeds.list_feeds(s, monitor=cfg.name)
    return sum(f.polls_since_full + 1 >= every for f in feeds if f.etag or f.last_modified)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the extraction workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


# --- report --------------------------------------------------------------------------------
def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


def table(passes: list[PassStats]) -> str:
    """The markdown table of the passes, one column each."""
    rows: list[tuple[str, Callable[[PassStats], str]]] = [
        ("wall time (s)", lambda p: f"**{p.wall:.2f}**"),
        ("· prepare: feeds, seeds (s)", lambda p: f"{p.stages['prepare']:.2f}"),
        ("· harvest: poll feeds + fetch pages (s)", lambda p: f"{p.stages['harvest']:.2f}"),
        ("· extract (s)", lambda p: f"{p.stages['extract']:.2f}"),
        ("· process (s)", lambda p: f"{p.stages['process']:.2f}"),
        ("CPU time, pipeline + extraction workers (s)", lambda p: f"{p.cpu:.2f}"),
        ("HTTP requests (Fetcher)", lambda p: f"{p.requests:,}"),
        ("bytes received (Fetcher, on the wire)", lambda p: _mb(p.bytes_received)),
        ("feed requests answered 200 (server)", lambda p: f"{p.server['feed_200']:,}"),
        ("feed requests answered 304 (server)", lambda p: f"{p.server['feed_304']:,}"),
        ("page requests (server)", lambda p: f"{p.server['pages']:,}"),
        ("extraction calls (ExtractJobs with HTML)", lambda p: f"{p.extraction_calls:,}"),
        ("texts from the page, not the feed summary", lambda p: f"{p.extracted_from_page:,}"),
        ("articles stored", lambda p: f"{p.stored:,}"),
        (
            "feeds ok / not modified / failed",
            lambda p: " / ".join(
                str(p.statuses.get(s, 0)) for s in ("ok", "not_modified", "failed")
            ),
        ),
    ]
    lines = ["| | " + " | ".join(p.label for p in passes) + " |"]
    lines.append("|---|" + "---:|" * len(passes))
    lines += [f"| {name} | " + " | ".join(fn(p) for p in passes) + " |" for name, fn in rows]
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> str:
    """One line describing this machine."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpus} CPU(s) {model or platform.processor()}, Python {platform.python_version()}"


def config(tmp: Path, plan: Plan, servers: list[LocalHTTPServer]) -> MonitorConfig:
    """The benchmark monitor: every feed, a fresh SQLite database, loopback allowed."""
    return parse_config(
        {
            "name": "bench-fetch",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp / "data"),
            "database_url": f"sqlite:///{tmp / 'bench.db'}",
            "feeds": [
                {"name": f"feed-{i:03d}", "url": servers[f.host].url(f.path)}
                for i, f in enumerate(plan.feeds)
            ],
            "fetch": {"allow_networks": [f"{h}/32" for h in HOSTS]},
        }
    )


def main() -> int:
    """Serve the site, run the first poll and the re-polls, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200, help="feeds (default 200)")
    ap.add_argument("--items", type=int, default=50, help="entries per feed (default 50)")
    ap.add_argument("--threads", type=int, default=8, help="harvest threads (default 8)")
    ap.add_argument(
        "--cross-listed",
        type=int,
        default=0,
        metavar="N",
        help="N entries of each feed also listed in another feed of the same host (default 0)",
    )
    ap.add_argument("--quick", action="store_true", help="40 feeds x 20 entries")
    args = ap.parse_args()
    n_feeds, n_items = (40, 20) if args.quick else (args.feeds, args.items)

    t = time.perf_counter()
    plan = make_plan(n_feeds, n_items, args.cross_listed)
    counters = mp.get_context("fork").Array("q", N_COUNTERS)
    servers, sizes = build_site(plan, counters)
    build_s = time.perf_counter() - t
    # fork before any thread exists in this process; the child serves, this process measures
    server_proc = mp.get_context("fork").Process(
        target=_serve_forever, args=(servers,), name="bench-site", daemon=True
    )
    server_proc.start()
    for srv in servers:
        srv.httpd.socket.close()  # the child accepts; this process only connects

    listed = sum(len(f.stories) for f in plan.feeds)
    cross = f", {listed - sizes['pages']:,} entries cross-listed" if listed > sizes["pages"] else ""
    print(f"# bench_fetch: {n_feeds} feeds x {n_items} entries on {len(HOSTS)} hosts")
    print(f"machine: {machine()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command: python -m scripts.bench_fetch {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"site: {sizes['feeds']} feeds ({_mb(sizes['feed_bytes'])}), {sizes['pages']:,} pages "
        f"(mean {sizes['page_bytes'] / max(1, sizes['pages']) / 1e3:.1f} kB, "
        f"{sizes['page_gz_bytes'] / max(1, sizes['pages']) / 1e3:.1f} kB gzipped)"
        f"{cross}"
        f"; text: {plan.source}, {plan.entries_per_page} entries a page"
        f"{' (some reused: not enough text)' if plan.reused_entries else ''}; "
        f"built in {build_s:.1f} s"
    )
    print(f"harvest: {args.threads} threads, one Fetcher (per-host limit 2), pages gzipped")
    print(f"load average before: {_load()}")
    passes: list[PassStats] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
            cfg = config(Path(tmp), plan, servers)
            get_engine(cfg.resolved_database_url)  # migrate the fresh database (not timed)
            passes.append(measure_pass("first poll", cfg, counters, threads=args.threads))
            passes.append(measure_pass("re-poll, nothing new (304)", cfg, counters,
                                   threads=args.threads))  # fmt: skip
            counters[IGNORE_VALIDATORS] = 1  # what every 10th poll, or a server without, costs
            passes.append(measure_pass("re-poll, nothing new, full fetch (200)", cfg, counters,
                                   threads=args.threads))  # fmt: skip
    finally:
        server_proc.terminate()
        server_proc.join(5)
    print(f"load average after: {_load()}")
    first, again, full = passes

    print()
    print(table(passes))
    print()
    ts = first.thread_seconds
    print(
        "first poll, harvest thread-seconds: "
        f"poll_feed {ts.get('poll_feed', 0.0):.1f} s, "
        f"fetch_pages {ts.get('fetch_pages', 0.0):.1f} s "
        f"(summed over {args.threads} threads); per page: extract "
        f"{first.stages['extract'] / max(1, first.extraction_calls) * 1e3:.1f} ms, process "
        f"{first.stages['process'] / max(1, first.stored) * 1e3:.1f} ms"
    )
    if first.server["pages"] > sizes["pages"]:
        print(
            f"first poll: {first.server['pages']:,} page requests for {sizes['pages']:,} "
            f"distinct pages ({first.server['pages'] - sizes['pages']:,} wasted on "
            "cross-listed entries)"
        )
    ratio = again.wall / first.wall if first.wall else 0.0
    print(
        f"re-poll wall time: {again.wall:.2f} s = {ratio:.1%} of the first poll "
        f"(target <= {TARGET_RATIO:.0%}): {'met' if ratio <= TARGET_RATIO else 'MISSED'}; "
        f"full-fetch re-poll: {full.wall:.2f} s = {full.wall / first.wall:.1%}"
    )
    problems = []
    for p in (again, full):
        if p.extraction_calls:
            problems.append(f"{p.label}: {p.extraction_calls} extraction call(s)")
        if p.server["pages"]:
            problems.append(f"{p.label}: {p.server['pages']} page request(s)")
        if p.stored:
            problems.append(f"{p.label}: {p.stored} article(s) stored")
    expected_304 = n_feeds - again.forced_full
    if again.server["feed_304"] != expected_304 or again.server["feed_200"] != again.forced_full:
        problems.append(
            f"{again.label}: {again.server['feed_304']} 304s and {again.server['feed_200']} 200s "
            f"for {n_feeds} feeds ({again.forced_full} due a forced full fetch)"
        )
    if first.statuses.get("ok", 0) != n_feeds:
        problems.append(f"first poll: {n_feeds - first.statuses.get('ok', 0)} feed(s) not ok")
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print(
            "re-polls: no extraction call, no page request; every feed answered 304 but the "
            f"{again.forced_full} due their staggered forced full fetch (200): ok"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
