"""Benchmark of a first poll end to end against extraction alone, with peak RSS (issue 14).

    .venv/bin/python -m scripts.bench_stream [--feeds 200 --items 50] [--threads 8] [--quick]

Issue 14's line: "first poll of 200 feeds x 50 items: end-to-end throughput >= 0.85 of
extraction-only throughput measured in the same run (extraction alone with the same workers on
the same pages), peak RSS of the pipeline process <= 400 MB whatever the batch size".

One run, one site: bench_fetch's loopback news site (`scripts/bench_fetch_site.py`, served from
a forked child), then two phases, each in a fresh interpreter (`python -m scripts.bench_stream
--child MODE`) so that neither the site built in this process nor the other phase raises the
high-water mark (`ru_maxrss`) of the process measured:

1. **end to end**: the first poll as newsmon runs it, `run_pass(force=True)` on a fresh SQLite
   store (prepare, then poll / extract / process overlapping as the streaming pass runs them,
   then health and deliver; bench_fetch's `measure_pass`), timed whole; articles/s = articles
   stored / wall time; also the chunks processed and the most pages held for extraction.
2. **extraction only**: the same feeds polled and their pages fetched (untimed, on another fresh
   store), then only `extract_batch` of those harvests timed: the same function, worker pool
   and number of workers the pass uses; articles/s = candidates / extraction time.

Reported: both rates and their ratio (target >= 0.85); the pipeline process's peak RSS
(target <= 400 MB) as `getrusage(RUSAGE_SELF).ru_maxrss` and `VmHWM`, with RSS and peak as each
stage of the pass ends; the extraction workers separately, as `RUSAGE_CHILDREN` and as their own
`VmHWM` sampled from /proc (Linux carries a parent's high-water mark into a child across fork +
exec, so `RUSAGE_CHILDREN` is at least the pipeline's RSS when a worker started, and the phase
children are started before the site is built for the same reason); the load average before
and after each phase. A measurement: it exits 0 whether or not the targets are met (1 only if
a child fails).
"""

from __future__ import annotations

import argparse
import inspect
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from monitors.extract import extract_articles
from monitors.httpclient import Fetcher
from pipeline.extract import extract_batch
from pipeline.prepare import prepare
from pipeline.run import POLL_THREADS, poll_feeds
from scripts import bench_fetch
from scripts.bench_fetch import StageClock, _load, machine, measure_pass
from scripts.bench_fetch_site import (
    HOSTS,
    N_COUNTERS,
    REPO,
    _serve_forever,
    build_site,
    make_plan,
)
from storage.db import get_engine

#: End-to-end articles/s as a share of extraction-only articles/s (issue 14's target).
TARGET_RATIO = 0.85
#: Peak RSS of the pipeline process, in MB (issue 14's target).
TARGET_RSS_MB = 400.0
#: Extraction worker processes a pass uses (`extract_batch` keeps `extract_articles`' default).
WORKERS: int = inspect.signature(extract_articles).parameters["workers"].default
#: The stages of a pass whose memory is reported (run_pass's stage names, first word).
STAGE_KINDS = ("prepare", "poll", "extract", "process", "deliver")


# --- the children (fresh interpreters) -----------------------------------------------------
class _NoCounters:
    """Stands in for the site's shared counters in a child (the site is not its child)."""

    def get_lock(self) -> Any:
        """A lock that locks nothing."""
        return nullcontext()

    def __getitem__(self, index: int) -> int:
        return 0

    def __setitem__(self, index: int, value: int) -> None:
        pass


def child_config(tmp: Path, feed_urls: list[str]) -> MonitorConfig:
    """The monitor of a child: the site's feeds, a fresh SQLite store in `tmp`, loopback ok."""
    return parse_config(
        {
            "name": "bench-stream",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp / "data"),
            "database_url": f"sqlite:///{tmp / 'bench.db'}",
            "feeds": [{"name": f"feed-{i:03d}", "url": u} for i, u in enumerate(feed_urls)],
            "fetch": {"allow_networks": [f"{h}/32" for h in HOSTS]},
        }
    )


def _status_mb(field: str, pid: int | str = "self") -> float:
    """A memory field of /proc/PID/status (VmRSS, VmHWM) in MB; 0 if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e6
    return 0.0


class WorkerPeaks(threading.Thread):
    """Samples VmHWM of this process's extraction workers (`-m monitors.extract`) while alive.

    A worker's own high-water mark: `RUSAGE_CHILDREN` also counts it, but Linux carries the
    parent's high-water mark into a child across fork + exec, so that figure is at least the
    pipeline process's RSS when the worker was started.
    """

    def __init__(self, every: float = 0.2) -> None:
        super().__init__(name="worker-peaks", daemon=True)
        self.every, self.peak_mb, self.seen = every, 0.0, 0
        self._pids: set[int] = set()
        self._stop_event = threading.Event()

    def run(self) -> None:
        """Sample until stopped."""
        me = Path(f"/proc/{os.getpid()}/task")
        while not self._stop_event.wait(self.every):
            for children in me.glob("*/children"):
                try:
                    pids = [int(p) for p in children.read_text().split()]
                except OSError:
                    continue
                for pid in pids:
                    try:
                        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                    except OSError:
                        continue
                    if b"monitors.extract" in cmd:
                        self._pids.add(pid)
                        self.peak_mb = max(self.peak_mb, _status_mb("VmHWM", pid))
            self.seen = len(self._pids)

    def stop(self) -> None:
        """Stop sampling."""
        self._stop_event.set()
        self.join()


def _peaks(workers: WorkerPeaks) -> dict[str, float]:
    """Peak RSS in MB: this process (ru_maxrss, VmHWM) and its extraction workers."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "rss_self_mb": me * 1024 / 1e6,
        "hwm_self_mb": _status_mb("VmHWM"),
        "rss_children_mb": kids * 1024 / 1e6,
        "hwm_workers_mb": workers.peak_mb,
        "workers_seen": workers.seen,
    }


class MemoryClock(StageClock):
    """bench_fetch's stage clock that also notes, as each stage ends, RSS now and peak so far."""

    def __init__(self) -> None:
        super().__init__()
        self.memory: dict[str, tuple[float, float]] = {}

    def __call__(self, stage: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run the stage as StageClock does, then note (VmRSS, VmHWM) under its kind."""
        result = super().__call__(stage, fn, *args, **kwargs)
        self.memory[stage.split(" ", 1)[0]] = (_status_mb("VmRSS"), _status_mb("VmHWM"))
        return result


def end_to_end(cfg: MonitorConfig, threads: int, workers: WorkerPeaks) -> dict[str, Any]:
    """The first poll as newsmon runs it (`run_pass`), timed whole, with peak RSS."""
    get_engine(cfg.resolved_database_url)  # migrate the fresh database (not timed)
    start_rss = _status_mb("VmRSS")
    clocks: list[MemoryClock] = []

    def clock() -> MemoryClock:
        clocks.append(MemoryClock())
        return clocks[-1]

    bench_fetch.StageClock = clock  # type: ignore[assignment,misc]  # measure_pass's clock
    try:
        st = measure_pass("end to end", cfg, _NoCounters(), threads=threads)
    finally:
        bench_fetch.StageClock = StageClock  # type: ignore[misc]
    return {
        "wall": st.wall,
        "articles": st.stored,
        "pages": st.extraction_calls,
        "from_page": st.extracted_from_page,
        "stages": st.stages,
        "cpu": st.cpu,
        "feeds_ok": st.statuses.get("ok", 0),
        "rss_start_mb": start_rss,
        "stage_memory": {k: clocks[0].memory.get(k, (0.0, 0.0)) for k in STAGE_KINDS},
        "chunks": len(clocks[0].results.get("process", [])),
        "pages_held": getattr(clocks[0].results["extract"][0], "most_pages_held", -1),
        **_peaks(workers),
    }


def extraction_only(cfg: MonitorConfig, threads: int, workers: WorkerPeaks) -> dict[str, Any]:
    """Poll and fetch the pages (untimed), then time `extract_batch` of them alone."""
    engine = get_engine(cfg.resolved_database_url)
    start_rss = _status_mb("VmRSS")
    now = utcnow()
    t0 = time.perf_counter()
    prepared = prepare(cfg, engine, now=now, force=True)
    with Fetcher(cfg.fetch) as fetcher:
        harvests = poll_feeds(cfg, engine, fetcher, prepared.due_feeds, now=now, threads=threads)
    fetch_s = time.perf_counter() - t0
    jobs = [e.job for h in harvests for e in h.items]
    fetched = {"rss_fetched_mb": _status_mb("VmRSS"), "hwm_fetched_mb": _status_mb("VmHWM")}
    t1 = time.perf_counter()
    candidates = extract_batch(harvests)
    extract_s = time.perf_counter() - t1
    return {
        "fetch_untimed": fetch_s,
        "extract": extract_s,
        "articles": len(candidates),
        "pages": sum(j.html is not None for j in jobs),
        "page_mb": sum(len(j.html) for j in jobs if j.html is not None) / 1e6,
        "from_page": sum(c.text.source == "page" for c in candidates),
        "rss_start_mb": start_rss,
        **fetched,
        **_peaks(workers),
    }


def child_main(mode: str) -> int:
    """Run one phase in this (fresh) process once the spec arrives on stdin; print JSON."""
    spec = json.loads(sys.stdin.readline())
    workers = WorkerPeaks()
    workers.start()
    with tempfile.TemporaryDirectory(prefix=f"bench-stream-{mode}-") as tmp:
        cfg = child_config(Path(tmp), spec["feed_urls"])
        phase = end_to_end if mode == "e2e" else extraction_only
        out = phase(cfg, spec["threads"], workers)
    workers.stop()
    out["hwm_workers_mb"], out["workers_seen"] = workers.peak_mb, workers.seen
    print("RESULT " + json.dumps(out), flush=True)
    return 0


def start_child(mode: str) -> subprocess.Popen[str]:
    """Start a phase's interpreter now, while this process is small (see `finish_child`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.bench_stream", "--child", mode],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def finish_child(mode: str, proc: subprocess.Popen[str], spec: dict[str, Any]) -> dict[str, Any]:
    """Hand the child its spec, wait for its figures; add the load before and after.

    Children are started before the site is built: Linux carries a parent's high-water mark
    into a child across fork + exec, so a child started later would report the site's memory
    as its own `ru_maxrss`.
    """
    load0 = _load()
    stdout, _ = proc.communicate(json.dumps(spec) + "\n")
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stdout.write(stdout)
        raise RuntimeError(f"child {mode} failed (exit code {proc.returncode})")
    out: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    out["load_before"], out["load_after"] = load0, _load()
    return out


# --- report --------------------------------------------------------------------------------
def report(e2e: dict[str, Any], ext: dict[str, Any]) -> list[str]:
    """The results table and the verdict lines."""
    e2e_rate = e2e["articles"] / e2e["wall"] if e2e["wall"] else 0.0
    ext_rate = ext["articles"] / ext["extract"] if ext["extract"] else 0.0
    ratio = e2e_rate / ext_rate if ext_rate else 0.0
    st = e2e["stages"]
    lines = [
        "| | end to end (`run_pass`) | extraction only (`extract_batch`) |",
        "|---|---:|---:|",
        f"| articles | {e2e['articles']:,} | {ext['articles']:,} |",
        f"| pages extracted (jobs with HTML) | {e2e['pages']:,} | {ext['pages']:,} |",
        f"| texts from the page | {e2e['from_page']:,} | {ext['from_page']:,} |",
        f"| timed (s) | **{e2e['wall']:.2f}** (whole pass) | **{ext['extract']:.2f}** "
        f"(extraction; fetch before it {ext['fetch_untimed']:.2f} s untimed) |",
        f"| · prepare / harvest / extract / process (s) | {st['prepare']:.2f} / "
        f"{st['harvest']:.2f} / {st['extract']:.2f} / {st['process']:.2f} | – / – / "
        f"{ext['extract']:.2f} / – |",
        f"| **articles/s** | **{e2e_rate:.1f}** | **{ext_rate:.1f}** |",
        f"| chunks processed; most pages held for extraction at once | {e2e['chunks']}; "
        f"{e2e['pages_held']} | 1; all {ext['pages']:,} |",
        f"| RSS after imports, before the pass (MB) | {e2e['rss_start_mb']:.0f} | "
        f"{ext['rss_start_mb']:.0f} (pages fetched: {ext['rss_fetched_mb']:.0f}, peak so far "
        f"{ext['hwm_fetched_mb']:.0f}) |",
        f"| **peak RSS, pipeline process: ru_maxrss (MB)** | **{e2e['rss_self_mb']:.0f}** | "
        f"{ext['rss_self_mb']:.0f} |",
        f"| peak RSS, pipeline process: VmHWM (MB) | {e2e['hwm_self_mb']:.0f} | "
        f"{ext['hwm_self_mb']:.0f} |",
        "| · RSS / peak when each stage ended (MB): "
        + ", ".join(f"{k} {v[0]:.0f} / {v[1]:.0f}" for k, v in e2e["stage_memory"].items())
        + " | – |",
        f"| peak RSS, largest extraction worker: VmHWM sampled (MB) | "
        f"{e2e['hwm_workers_mb']:.0f} ({e2e['workers_seen']} workers) | "
        f"{ext['hwm_workers_mb']:.0f} ({ext['workers_seen']} workers) |",
        f"| peak RSS, RUSAGE_CHILDREN ru_maxrss (MB; includes the parent's at start) | "
        f"{e2e['rss_children_mb']:.0f} | {ext['rss_children_mb']:.0f} |",
        f"| load average before → after | {e2e['load_before']} → {e2e['load_after']} | "
        f"{ext['load_before']} → {ext['load_after']} |",
        "",
        f"ratio end to end / extraction only: {ratio:.3f} (target >= {TARGET_RATIO}): "
        f"{'target met' if ratio >= TARGET_RATIO else 'target missed'}",
        f"peak RSS of the pipeline process: {e2e['rss_self_mb']:.0f} MB (target <= "
        f"{TARGET_RSS_MB:.0f} MB): "
        f"{'target met' if e2e['rss_self_mb'] <= TARGET_RSS_MB else 'target missed'}; "
        f"extraction workers: {WORKERS}, the largest {e2e['hwm_workers_mb']:.0f} MB (VmHWM)",
        f"end to end outside the extract stage's span: {e2e['wall'] - st['extract']:.2f} s of "
        f"{e2e['wall']:.2f} s (spans, overlapping: poll {st['harvest']:.2f} s, extract "
        f"{st['extract']:.2f} s, process {st['process']:.2f} s)",
    ]
    return lines


def main() -> int:
    """Serve the site, run both phases in fresh interpreters, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=200, help="feeds (default 200)")
    ap.add_argument("--items", type=int, default=50, help="entries per feed (default 50)")
    ap.add_argument("--threads", type=int, default=POLL_THREADS, help="harvest threads")
    ap.add_argument("--quick", action="store_true", help="40 feeds x 20 entries")
    ap.add_argument("--child", choices=("e2e", "extract"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main(args.child)
    n_feeds, n_items = (40, 20) if args.quick else (args.feeds, args.items)

    children = {mode: start_child(mode) for mode in ("e2e", "extract")}  # before the site
    t = time.perf_counter()
    plan = make_plan(n_feeds, n_items)
    counters = mp.get_context("fork").Array("q", N_COUNTERS)
    servers, sizes = build_site(plan, counters)
    build_s = time.perf_counter() - t
    server_proc = mp.get_context("fork").Process(  # before any thread exists in this process
        target=_serve_forever, args=(servers,), name="bench-site", daemon=True
    )
    server_proc.start()
    for srv in servers:
        srv.httpd.socket.close()  # the child accepts; this process only connects
    print(f"# bench_stream: {n_feeds} feeds x {n_items} entries on {len(HOSTS)} hosts")
    print(f"machine: {machine()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command: python -m scripts.bench_stream {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"site: {sizes['pages']:,} pages "
        f"(mean {sizes['page_bytes'] / max(1, sizes['pages']) / 1e3:.1f} kB); "
        f"text: {plan.source}; built in {build_s:.1f} s"
    )
    print(f"harvest: {args.threads} threads; extraction: {WORKERS} worker processes in both")
    print(f"load average before: {_load()}", flush=True)
    spec = {"feed_urls": [servers[f.host].url(f.path) for f in plan.feeds], "threads": args.threads}
    try:
        e2e = finish_child("e2e", children["e2e"], spec)
        print(f"end to end done: {e2e['wall']:.1f} s", flush=True)
        ext = finish_child("extract", children["extract"], spec)
        print(f"extraction only done: {ext['extract']:.1f} s", flush=True)
    except RuntimeError as exc:
        print(f"FAIL: {exc}")
        return 1
    finally:
        for proc in children.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        server_proc.terminate()
        server_proc.join(5)
    print(f"load average after: {_load()}")
    print()
    print("\n".join(report(e2e, ext)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
