"""Benchmark of DedupIndex: build time, memory and time per query at 1k / 10k / 100k stored.

Run: `.venv/bin/python -m scripts.bench_dedup` (or `--quick`: 1k and 10k, fewer queries).

Stored texts are real: rss2023 descriptions (HTML stripped, 14 outlets) and KCNA full texts,
plus deterministic perturbed copies (typos, excerpt, boilerplate) of Guardian and KCNA texts
to reach the counts. Queries are long Guardian descriptions held out of the store (new
articles) and perturbed copies of stored long texts (duplicates), half each. Each size runs in
a fresh process so its RSS growth is its own. Brute force (`fuzz.ratio` of the query against
every stored normalized text) runs in the same process on a few queries over at most 10k
stored texts and is extrapolated linearly to the stored count.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing as mp
import random
import resource
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from rapidfuzz import fuzz, process

import monitors.dedup as dedup_mod
from monitors.bandstore import BandStore
from monitors.dedup import DedupIndex
from monitors.dedup_features import Featurizer
from monitors.text import normalize_text
from scripts.build_dedup_pairs import KCNA, RSS
from scripts.build_dedup_pairs_text import (
    boilerplate,
    html_to_text,
    lead_excerpt,
    n_words,
    read_jsonl,
    typos,
)

SEED = 7
BRUTE_QUERIES = 5
BRUTE_MAX_STORED = 10_000


def rss_kb() -> float:
    """Current resident set size in kB (Linux /proc)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def corpus(n: int, n_queries: int) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(key, title, text) to store and (title, text) queries, deterministic."""
    rng = random.Random(SEED)
    rows: list[tuple[str, str, str]] = []
    for f in sorted(RSS.glob("*.jsonl.gz")):
        for r in read_jsonl(f):
            rows.append((r["id"], r["title"], html_to_text(r["description"])))
    for r in read_jsonl(KCNA):
        if r["text"]:
            rows.append((r["id"], r["title"], r["text"]))
    rng.shuffle(rows)
    long_rows = [r for r in rows if n_words(r[2]) >= 100]
    held_out = {r[0] for r in long_rows[-(n_queries // 2) :]}
    new_queries = [(t, x) for k, t, x in long_rows[-(n_queries // 2) :]]
    pool = [r for r in rows if r[0] not in held_out]
    stored = pool[:n]
    longs = [r for r in pool if n_words(r[2]) >= 100]
    i = 0
    while len(stored) < n:  # perturbed copies to reach the count
        k, t, x = longs[i % len(longs)]
        fn = (typos, lead_excerpt, boilerplate)[i % 3]
        stored.append((f"{k}~{i}", t, fn(x, rng)))
        i += 1
    stored_long = [r for r in stored if n_words(r[2]) >= 100]
    picks = [stored_long[j % len(stored_long)] for j in range(n_queries - len(new_queries))]
    dup_queries = [
        (t, typos(x, rng) if j % 2 else lead_excerpt(x, rng)) for j, (_, t, x) in enumerate(picks)
    ]
    return stored, new_queries + dup_queries


#: Stages timed by `breakdown`: (owner, attribute, label). Nested: candidates include LSH.
STAGES = [
    ("Featurizer", "features", "features (normalize, shingles, MinHash, band keys)"),
    ("DedupIndex", "_text_candidates", "text candidates (LSH query, rank)"),
    ("BandStore", "query", "LSH bucket lookups (text + title)"),
    ("module", "overlaps", "shingle-overlap prefilter"),
    ("DedupIndex", "_verify", "text verification (rapidfuzz, containment)"),
    ("DedupIndex", "_title_candidates", "title candidates"),
    ("DedupIndex", "_verify_title", "title verification"),
]


def breakdown(idx: DedupIndex, queries: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Mean ms and calls per query of each stage (a second pass with timing wrappers)."""
    spent: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    owners = {
        "DedupIndex": DedupIndex,
        "Featurizer": Featurizer,
        "BandStore": BandStore,
        "module": dedup_mod,
    }
    saved = []
    for owner, attr, label in STAGES:
        obj = owners[owner]
        fn = getattr(obj, attr)
        saved.append((obj, attr, fn))

        def timed(*a: Any, _fn: Callable[..., Any] = fn, _label: str = label, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                spent[_label] += time.perf_counter() - t
                calls[_label] += 1

        setattr(obj, attr, functools.wraps(fn)(timed))
    try:
        for title, text in queries:
            idx.find(text=text, title=title)
    finally:
        for obj, attr, fn in saved:
            setattr(obj, attr, fn)
    q = len(queries)
    return {lab: (spent[lab] * 1e3 / q, calls[lab] / q) for _, _, lab in STAGES}


def run_size(n: int, n_queries: int, out: Any) -> None:
    """Build an index of n texts and time queries; send a result dict through `out`."""
    stored, queries = corpus(n, n_queries)
    base = rss_kb()
    t0 = time.perf_counter()
    c0 = time.process_time()
    idx = DedupIndex()
    for key, title, text in stored:
        idx.add(key=key, kind="article", text=text, title=title)
    build = time.perf_counter() - t0
    build_cpu = time.process_time() - c0
    grown = rss_kb() - base
    times = []
    cpu = []
    found = 0
    for title, text in queries:
        t, c = time.perf_counter(), time.process_time()
        m = idx.find(text=text, title=title)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        found += m is not None
    stages = breakdown(idx, queries)
    norms = [normalize_text(x) for _, _, x in stored[:BRUTE_MAX_STORED]]
    bt = []
    for _title, text in queries[-BRUTE_QUERIES:]:
        q = normalize_text(text)
        t = time.perf_counter()
        process.extractOne(q, norms, scorer=fuzz.ratio, processor=None)
        bt.append(time.perf_counter() - t)
    brute = statistics.mean(bt) * n / len(norms)
    out.send(
        {
            "n": n,
            "build_s": build,
            "build_cpu_s": build_cpu,
            "index_bytes_per_article": idx.index_bytes() / n,
            "stages": stages,
            "rss_mb": grown / 1024,
            "bytes_per_article": grown * 1024 / n,
            "mean_ms": statistics.mean(times) * 1e3,
            "cpu_mean_ms": statistics.mean(cpu) * 1e3,
            "median_ms": statistics.median(times) * 1e3,
            "p95_ms": sorted(times)[int(0.95 * len(times))] * 1e3,
            "found": found,
            "queries": len(queries),
            "brute_ms": brute * 1e3,
            "brute_extrapolated": n > len(norms),
        }
    )


def main() -> None:
    """Run every size in a fresh process and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1k and 10k stored, 60 queries")
    args = ap.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    n_queries = 60 if args.quick else 300
    ctx = mp.get_context("spawn")
    results = []
    for n in sizes:
        recv, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=run_size, args=(n, n_queries, send))
        p.start()
        while not recv.poll(1.0):
            if not p.is_alive():
                raise SystemExit(f"benchmark of {n:,} stored texts failed (see above)")
        results.append(recv.recv())
        p.join()
    print(
        "| stored | build wall (s) | build CPU (s) | RSS growth (MB) | bytes/article "
        "| LSH+columns bytes/article | query mean (ms) | CPU mean | median | p95 | flagged dup "
        "| brute force fuzz.ratio (ms/query) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        note = " (extrapolated from 10k)" if r["brute_extrapolated"] else ""
        print(
            f"| {r['n']:,} | {r['build_s']:.1f} | {r['build_cpu_s']:.1f} | {r['rss_mb']:.0f}"
            f" | {r['bytes_per_article']:,.0f} | {r['index_bytes_per_article']:,.0f}"
            f" | {r['mean_ms']:.2f} | {r['cpu_mean_ms']:.2f} | {r['median_ms']:.2f}"
            f" | {r['p95_ms']:.2f}"
            f" | {r['found']}/{r['queries']} | {r['brute_ms']:,.0f}{note} |"
        )
    print("\n| stage (ms per query, calls) | " + " | ".join(f"{r['n']:,}" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for _, _, label in STAGES:
        cells = " | ".join(
            f"{r['stages'][label][0]:.3f} ({r['stages'][label][1]:.1f})" for r in results
        )
        print(f"| {label} | {cells} |")
    if len(results) >= 2:
        a, b = results[-2], results[-1]
        for col, name in (("mean_ms", "wall"), ("cpu_mean_ms", "CPU")):
            growth = b[col] / a[col]
            print(
                f"\n{name}: ratio of mean query time {b['n']:,} / {a['n']:,}: {growth:.2f}; "
                f"projection to 1,000,000 (same growth per 10x): {b[col] * growth:.2f} ms"
            )
        mem = b["bytes_per_article"] * 1_000_000 / 2**30
        print(f"projected memory at 1,000,000: {mem:.1f} GiB")


if __name__ == "__main__":
    main()
