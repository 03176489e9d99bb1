"""Helpers of the benchmarks that need a store already holding many articles.

`corpus_articles(n)` makes article texts from the rss2023 corpus (7 entries of one outlet
each, drawn without repeats within a round, shuffled differently each round);
`preload_newsmon` writes them into a monitor's database the way a pass stores them (article
rows and their dedup index rows, in bulk); `newsmon_pass` runs one pass of the stage
functions and returns its counts and stage times.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing as mp
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import col

from monitors.clock import utcnow
from monitors.config import MonitorConfig
from monitors.dedup import DedupIndex, DedupSettings
from monitors.dedup_records import DedupRecord, record_of
from pipeline import dedup_index
from pipeline.run import run_pass
from scripts.bench_fetch import StageClock
from scripts.bench_fetch_site import Entry, load_entries
from storage import dedup_store
from storage.db import get_engine, session_scope
from storage.models import Article

#: Entries per stored article text (as the benchmark site's pages).
ENTRIES_PER_TEXT = 7
#: Articles written per transaction while preloading.
PRELOAD_BATCH = 2000


@functools.cache
def _entries() -> dict[str, list[Entry]]:
    return load_entries()[0]


def corpus_articles(
    n: int, *, exclude: frozenset[str] = frozenset(), salt: int = 0
) -> Iterator[tuple[str, str, str]]:
    """`n` deterministic (url, title, text) articles made of rss2023 entries not in `exclude`."""
    by_outlet = {o: [e for e in v if e.id not in exclude] for o, v in sorted(_entries().items())}
    made = 0
    rnd = 0
    while made < n:
        rng = random.Random(f"{salt}/{rnd}")
        for outlet, pool in by_outlet.items():
            order = list(range(len(pool)))
            rng.shuffle(order)
            for i in range(0, len(order) - ENTRIES_PER_TEXT + 1, ENTRIES_PER_TEXT):
                entries = [pool[j] for j in order[i : i + ENTRIES_PER_TEXT]]
                text = "\n\n".join(p for e in entries for p in e.paragraphs)
                key = hashlib.sha1(f"{salt}/{rnd}/{outlet}/{i}".encode()).hexdigest()[:16]
                yield f"https://stored.test/{key}", entries[0].title, text
                made += 1
                if made >= n:
                    return
        rnd += 1


_INDEX: DedupIndex | None = None


def _records(settings: DedupSettings, rows: list[tuple[str, str]]) -> list[DedupRecord]:
    global _INDEX  # one index (its permutations) per worker process
    if _INDEX is None or _INDEX.settings != settings:
        _INDEX = DedupIndex(settings)
    return [record_of(_INDEX.features(text=text, title=title), settings) for title, text in rows]


def _article_row(monitor: str, url: str, title: str, text: str, now: Any) -> dict[str, Any]:
    return {
        "monitor": monitor,
        "url": url,
        "link": url,
        "title": title,
        "text": text,
        "summary": "",
        "content_hash": "preloaded",
        "text_hash": "",
        "first_seen_at": now,
        "updated_at": now,
        "published_at": now,
        "version": 1,
        "text_source": "page",
        "relevant": False,
    }


def preload_newsmon(cfg: MonitorConfig, articles: Iterable[tuple[str, str, str]]) -> int:
    """Store (url, title, text) articles as a pass would (article rows with their dedup index
    rows), in bulk; features computed in 2 worker processes. Returns how many."""
    engine = get_engine(cfg.resolved_database_url)
    now = utcnow()
    done = 0
    batch: list[tuple[str, str, str]] = []
    with mp.get_context("fork").Pool(2) as pool:

        def flush() -> None:
            nonlocal done
            half = (len(batch) + 1) // 2
            parts = [[(t, x) for _, t, x in batch[:half]], [(t, x) for _, t, x in batch[half:]]]
            records = [r for part in pool.starmap(_records, [(cfg.dedup, p) for p in parts])
                       for r in part]  # fmt: skip
            with session_scope(engine) as s:
                s.execute(
                    insert(Article),
                    [_article_row(cfg.name, u, t, x, now) for u, t, x in batch],
                )
                urls = [u for u, _, _ in batch]
                q = select(col(Article.url), col(Article.id)).where(
                    col(Article.monitor) == cfg.name, col(Article.url).in_(urls)
                )
                ids: dict[str, int] = {u: int(i) for u, i in s.execute(q).all()}
                dedup_index.write_records(
                    s, cfg=cfg, records=[(ids[u], r) for u, r in zip(urls, records, strict=True)]
                )
            done += len(batch)
            batch.clear()

        for row in articles:
            batch.append(row)
            if len(batch) >= PRELOAD_BATCH:
                flush()
        if batch:
            flush()
    # as the passes that stored them would have: every article so far has its index rows
    with session_scope(engine) as s:
        last = s.execute(select(func.max(Article.id)).where(col(Article.monitor) == cfg.name))
        dedup_store.set_indexed_through(s, monitor=cfg.name, article_id=int(last.scalar() or 0))
    return done


class CpuClock(StageClock):
    """`StageClock` that also keeps the CPU seconds of the process stage (this process)."""

    process_cpu = 0.0

    def __call__(self, stage: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run and time the stage (CPU time too, for the process stage)."""
        cpu = time.process_time()
        result = super().__call__(stage, fn, *args, **kwargs)
        if stage == "process":
            self.process_cpu += time.process_time() - cpu
        return result


def newsmon_pass(cfg: MonitorConfig, *, threads: int = 8) -> dict[str, Any]:
    """One pass (`run_pass`, no Prefect): counts, stage seconds and the process stage's CPU
    seconds."""
    engine = get_engine(cfg.resolved_database_url)
    clock = CpuClock()
    t0 = time.perf_counter()
    summary = run_pass(cfg, engine, now=utcnow(), runner=clock, poll_threads=threads)
    wall = time.perf_counter() - t0
    return {
        "new": summary.new_articles,
        "duplicates": summary.duplicates_of_seeds + summary.duplicates_of_articles,
        "wall": wall,
        "stages": {
            k: clock.seconds(k) for k in ("prepare", "poll", "extract", "process", "deliver")
        },
        "process_cpu": clock.process_cpu,
    }
