"""A pass bringing 100 new articles, on a store of 10k and of 100k articles, 50 seeds.

    .venv/bin/python -m scripts.bench_pass [--sizes 10000 100000] [--seeds 50] [--quick]

The site is `bench_fetch`'s (real rss2023 text in news-site pages, forked server process,
loopback hosts): 2 feeds x 50 entries, all new. For each size a fresh SQLite database is
preloaded (not timed) with that many articles stored as a pass stores them (article rows and
their dedup index rows; texts of 7 rss2023 entries each, none of the site's), and the monitor
has `--seeds` seeds (the 5 bundled ones plus corpus texts). Then one pass of the stage
functions is timed: wall time by stage and the process stage's CPU time per new article.
Targets (issue 14): pass <= 5 s at 100k, 100k / 10k <= 1.3x, process <= 2 CPU-ms/article.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from pipeline.prepare import prepare
from scripts.bench_all import machine_lines
from scripts.bench_fetch_site import HOSTS, N_COUNTERS, Plan, _serve_forever, build_site, make_plan
from scripts.bench_store import corpus_articles, newsmon_pass, preload_newsmon
from storage.db import dispose_engines, get_engine
from tests.support.httpserver import LocalHTTPServer

REPO = Path(__file__).resolve().parents[1]
TARGET_PASS_S = 5.0
TARGET_RATIO = 1.3
TARGET_CPU_MS = 2.0


def make_seeds(folder: Path, n: int, exclude: frozenset[str]) -> None:
    """The bundled seeds plus corpus texts up to `n` seed files in `folder`."""
    folder.mkdir(parents=True)
    bundled = sorted((REPO / "seeds").glob("*.txt"))[:n]
    for path in bundled:
        shutil.copy(path, folder / path.name)
    extra = corpus_articles(n - len(bundled), exclude=exclude, salt=7919)
    for i, (_, title, text) in enumerate(extra, start=len(bundled)):
        (folder / f"{i:03d}_bench.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")


def config(tmp: Path, seeds: Path, plan: Plan, servers: list[LocalHTTPServer]) -> MonitorConfig:
    """The benchmark monitor: the site's feeds, `seeds`, a fresh SQLite database."""
    return parse_config(
        {
            "name": "bench-pass",
            "seeds": str(seeds),
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
    """Serve the site; for each size preload a store and time one pass."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="sizes 1000 and 10000")
    args = ap.parse_args()
    sizes = [1000, 10_000] if args.quick else args.sizes

    plan = make_plan(2, 50)
    site_entries = frozenset(e.id for f in plan.feeds for s in f.stories for e in s.entries)
    counters = mp.get_context("fork").Array("q", N_COUNTERS)
    servers, _ = build_site(plan, counters)
    child = mp.get_context("fork").Process(target=_serve_forever, args=(servers,), daemon=True)
    child.start()
    for srv in servers:
        srv.httpd.socket.close()
    for line in machine_lines():
        print(line)
    print(f"command: python -m scripts.bench_pass {' '.join(sys.argv[1:])}".rstrip())
    results: list[tuple[int, dict[str, Any]]] = []
    try:
        for n in sizes:
            with tempfile.TemporaryDirectory(prefix="bench-pass-") as tmp_name:
                tmp = Path(tmp_name)
                make_seeds(tmp / "seeds", args.seeds, site_entries)
                cfg = config(tmp, tmp / "seeds", plan, servers)
                engine = get_engine(cfg.resolved_database_url)
                t = time.perf_counter()
                stored = preload_newsmon(cfg, corpus_articles(n, exclude=site_entries))
                prepare(cfg, engine, now=utcnow())  # seeds in (not timed)
                print(f"[{n:,} stored] preloaded {stored:,} in {time.perf_counter() - t:.0f} s")
                r = newsmon_pass(cfg)
                results.append((n, r))
                st = r["stages"]
                print(
                    f"[{n:,} stored] pass {r['wall']:.2f} s: {r['new']} new "
                    f"({r['duplicates']} duplicates); "
                    + ", ".join(f"{k} {v:.2f} s" for k, v in st.items())
                    + f"; process {r['process_cpu'] / max(1, r['new']) * 1e3:.2f} CPU-ms/article",
                    flush=True,
                )
                dispose_engines()
    finally:
        child.terminate()
        child.join(5)
    print(machine_lines()[-1])
    print("\n| stored | pass (s) | prepare | poll | extract | process (s) | "
          "process CPU-ms/article | new |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, r in results:
        st = r["stages"]
        print(
            f"| {n:,} | **{r['wall']:.2f}** | {st['prepare']:.2f} | {st['poll']:.2f} | "
            f"{st['extract']:.2f} | {st['process']:.2f} | "
            f"**{r['process_cpu'] / max(1, r['new']) * 1e3:.2f}** | {r['new']} |"
        )
    if len(results) >= 2:
        (n0, r0), (n1, r1) = results[0], results[-1]
        ratio = r1["wall"] / r0["wall"]
        cpu_ms = r1["process_cpu"] / max(1, r1["new"]) * 1e3
        print(
            f"\n{n1:,} / {n0:,} stored: {ratio:.2f}x (target <= {TARGET_RATIO}x); pass at "
            f"{n1:,}: {r1['wall']:.2f} s (target <= {TARGET_PASS_S} s); process {cpu_ms:.2f} "
            f"CPU-ms/article (target <= {TARGET_CPU_MS})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
