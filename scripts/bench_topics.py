"""Benchmark tagging + development assignment per article against a large development index.

    .venv/bin/python -m scripts.bench_topics [--quick]

Builds a DevelopmentIndex of ~100k developments from the rss2023 entries (title + description)
and the KCNA texts (padded with rss2023 entries shifted by a year to reach the target), then
times `Tagger.tag` + `DevelopmentIndex.assign` on articles not in the index.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import statistics
import time
from datetime import datetime, timedelta

from monitors.developments import DevelopmentIndex
from monitors.tagging import Tagger
from monitors.taxonomy import default_taxonomy
from monitors.text import strip_html
from scripts.shared_data import CORPORA

SHARED = CORPORA
WATCHED = frozenset({"flights", "sanctions", "summits"})


def _date(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def load_articles() -> list[tuple[str, str, str, datetime]]:
    """(id, title, text, date) of every rss2023 entry and KCNA article."""
    out = []
    for path in sorted((SHARED / "rss2023").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                text = strip_html(r.get("description") or "")
                out.append((r["id"], r["title"], text, _date(r["date"])))
    with gzip.open(SHARED / "kcna2024" / "kcna.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append((r["id"], r["title"], r.get("text") or "", _date(r["date"])))
    return out


def main() -> None:
    """Build the index, time the per-article work, print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k developments, 300 articles")
    ap.add_argument("--size", type=int, default=100_000, help="developments in the index")
    ap.add_argument("--queries", type=int, default=2000, help="articles timed")
    args = ap.parse_args()
    size, queries = (10_000, 300) if args.quick else (args.size, args.queries)

    rng = random.Random(7)
    articles = load_articles()
    rng.shuffle(articles)
    held = articles[:queries]
    pool = articles[queries:]
    stored: list[tuple[str, str, str, datetime]] = []
    shift = timedelta(0)
    while len(stored) < size:  # pad by re-adding the pool shifted by a year
        stored.extend((f"{a[0]}@{shift.days}", a[1], a[2], a[3] + shift) for a in pool)
        shift += timedelta(days=365)
    stored = sorted(stored[:size], key=lambda a: a[3])

    tagger = Tagger(
        default_taxonomy().topics,
        default_taxonomy().actors,
        require_actors=["north_korea", "russia"],
    )
    index = DevelopmentIndex()
    t0 = time.perf_counter()
    for key, title, text, date in stored:
        index.add(key=key, title=title, text=text, topics=frozenset(), published=date)
    build = time.perf_counter() - t0

    times: list[float] = []
    cpu: list[float] = []
    joined = 0
    for _, title, text, date in held:
        t = time.perf_counter()
        c = time.process_time()
        tagging = tagger.tag(title=title, text=text)
        topics = frozenset(tagging.topic_names())
        a = index.assign(title=title, text=text, topics=topics, published=date, watched=WATCHED)
        cpu.append((time.process_time() - c) * 1000)
        times.append((time.perf_counter() - t) * 1000)
        joined += a.key is not None
    times.sort()
    cpu.sort()
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(f"index: {len(index)} developments built in {build:.1f} s")
    print(
        f"tag+assign over {len(times)} articles: mean {statistics.mean(times):.3f} ms, "
        f"p50 {times[len(times) // 2]:.3f} ms, p95 {times[int(len(times) * 0.95)]:.3f} ms, "
        f"max {times[-1]:.3f} ms; joined an existing development: {joined}"
    )
    # CPU time of this process: less sensitive than wall time to other jobs on a shared box.
    print(
        f"cpu time per article: mean {statistics.mean(cpu):.3f} ms, "
        f"p50 {cpu[len(cpu) // 2]:.3f} ms, p95 {cpu[int(len(cpu) * 0.95)]:.3f} ms; "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
