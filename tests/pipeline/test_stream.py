"""The streaming pass (`pipeline.stream`) against a real local site and real extraction workers:
a pass bigger than a chunk stores what one batch stores, a pass that fits in one chunk is the
batch pass exactly, pages are not retained, and a pass failing mid-way loses nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from monitors.httpclient import Fetcher
from pipeline.extract import extract_batch
from pipeline.harvest import save_validators
from pipeline.prepare import prepare
from pipeline.process import ArticleOutcome, process_batch
from pipeline.run import poll_feeds, run_pass
from pipeline.stream import StreamReport
from storage import repo_feeds
from storage import repository as repo
from storage.db import get_engine
from storage.models import ArticleSource
from tests.monitors.test_extract import extract_workers_alive
from tests.support.httpserver import LocalHTTPServer
from tests.support.newsfixture import SAMPLES, conditional, serve_feed, serve_sample

REPO = Path(__file__).resolve().parents[2]
SLUGS = ("guardian", "nbcnews-world", "wsj-world", "bbc-news")
PER_FEED = 6  # 4 feeds x 6 entries + one entry listed by two feeds: 25 entries, 24 pages
CHUNK, QUEUE = 5, 2


def build_site(site: LocalHTTPServer) -> dict[str, str]:
    """Four feeds of sample articles; the wsj feed also lists the guardian feed's first entry."""
    feeds: dict[str, str] = {}
    first = None
    for slug in SLUGS:
        suffixes = sorted(p.stem for p in (SAMPLES / "articles" / slug).glob("*.html"))
        entries = [serve_sample(site, slug, x) for x in suffixes[:PER_FEED]]
        first = first or entries[0]
        if slug == "wsj-world":
            entries.append(first)  # fetched once, through whichever feed claims it first
        feeds[slug] = serve_feed(site, f"/{slug}.xml", entries)
        conditional(site, f"/{slug}.xml")
    return feeds


def config(tmp_path: Path, name: str, feeds: dict[str, str], **fetch: int) -> MonitorConfig:
    return parse_config(
        {
            "name": "stream",
            "seeds": str(REPO / "seeds"),
            "data_dir": str(tmp_path / name),
            "database_url": f"sqlite:///{tmp_path / f'{name}.db'}",
            "feeds": [{"name": n, "url": u} for n, u in feeds.items()],
            "fetch": {"allow_networks": ["127.0.0.1/32"], **fetch},
        }
    )


class Recorder:
    """A stage runner that calls each stage and keeps the names and results (thread-safe)."""

    def __init__(self, fail_on: Callable[[str, int], bool] = lambda stage, n: False) -> None:
        self.stages: list[str] = []
        self.results: dict[str, list[Any]] = {}
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def __call__(self, stage: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.stages.append(stage)
            n = self.stages.count(stage)
        if self.fail_on(stage, n):
            raise RuntimeError(f"{stage} #{n} failed")
        result = fn(*args, **kwargs)
        with self._lock:
            self.results.setdefault(stage.split(" ", 1)[0], []).append(result)
        return result


def stored(cfg: MonitorConfig) -> dict[str, tuple[str | None, str, int]]:
    """Per stored article URL: its text hash, text source and how many feeds it came through."""
    with Session(get_engine(cfg.resolved_database_url)) as s:
        arts = repo.list_articles(s, monitor=cfg.name)
        sources = list(s.exec(select(ArticleSource)))
    count = {a.id: sum(x.article_id == a.id for x in sources) for a in arts}
    return {a.url.split("/", 3)[3]: (a.text_hash, a.text_source, count[a.id]) for a in arts}


def batch_pass(cfg: MonitorConfig) -> list[ArticleOutcome]:
    """The pass as it ran before streaming: poll every feed, extract all, process one batch."""
    engine = get_engine(cfg.resolved_database_url)
    now = utcnow()
    prepared = prepare(cfg, engine, now=now, force=True)
    with Fetcher(cfg.fetch) as fetcher:
        harvests = poll_feeds(cfg, engine, fetcher, prepared.due_feeds, now=now)
    outcomes = process_batch(cfg, engine, extract_batch(harvests), run_id=None, now=now)
    save_validators(cfg, engine, harvests)
    return outcomes


def outcome_key(o: ArticleOutcome) -> tuple[Any, ...]:
    return (o.url.split("/", 3)[3], o.feed, o.status, o.duplicate, o.topics, o.relevant,
            o.development_id, o.new_development, o.alerts, o.note)  # fmt: skip


def test_a_pass_bigger_than_a_chunk_stores_what_one_batch_stores(tmp_path: Path) -> None:
    with LocalHTTPServer() as site:
        feeds = build_site(site)
        chunked = config(tmp_path, "chunked", feeds, stream_chunk=CHUNK, stream_queue=QUEUE)
        runner = Recorder()
        # fewer poll threads than feeds: polls wait for a thread while extraction has its own
        summary = run_pass(chunked, get_engine(chunked.resolved_database_url), now=utcnow(),
                           runner=runner, poll_threads=2)  # fmt: skip
        one = config(tmp_path, "batch", feeds)
        batch_outcomes = batch_pass(one)
    entries = len(SLUGS) * PER_FEED + 1
    assert summary.entries_seen == entries
    assert summary.new_articles == entries - 1  # the entry of two feeds is one article
    assert len(summary.outcomes) == len(batch_outcomes) == entries
    assert stored(chunked) == stored(one)  # same articles, same texts, same sources
    assert runner.stages.count("process") >= entries // CHUNK  # processed chunk by chunk
    assert sorted(o.url for o in summary.outcomes) == sorted(o.url for o in batch_outcomes)
    (report,) = runner.results["extract"]
    assert isinstance(report, StreamReport)
    assert report.extracted == entries and report.pages == entries - 1
    # memory follows the queue, not the batch: pages queued for or in extraction at once
    # never exceed the queue and the two workers' jobs (taken ahead, and running)
    assert 0 < report.most_pages_held <= QUEUE + 2 * 2
    assert all(e.job.html is None for h in runner.results["poll"] for e in h.items)
    with Session(get_engine(chunked.resolved_database_url)) as s:
        etags = {f.name: f.etag for f in repo_feeds.list_feeds(s, monitor="stream")}
    assert etags == dict.fromkeys(SLUGS, '"v1"')  # saved once everything was stored


def test_a_pass_in_one_chunk_is_the_batch_pass_exactly(tmp_path: Path) -> None:
    with LocalHTTPServer() as site:
        feeds = build_site(site)
        streamed = config(tmp_path, "streamed", feeds)  # default chunk: the whole pass
        runner = Recorder()
        summary = run_pass(streamed, get_engine(streamed.resolved_database_url), now=utcnow(),
                           runner=runner)  # fmt: skip
        batch_outcomes = batch_pass(config(tmp_path, "batch", feeds))
    assert runner.stages.count("process") == 1
    assert [outcome_key(o) for o in summary.outcomes] == [outcome_key(o) for o in batch_outcomes]


def test_a_pass_failing_mid_way_loses_nothing(tmp_path: Path) -> None:
    with LocalHTTPServer() as site:
        feeds = build_site(site)
        cfg = config(tmp_path, "crash", feeds, stream_chunk=CHUNK, stream_queue=QUEUE)
        engine = get_engine(cfg.resolved_database_url)
        second_chunk_fails = Recorder(lambda stage, n: stage == "process" and n == 2)
        with pytest.raises(RuntimeError, match="process #2 failed"):
            run_pass(cfg, engine, now=utcnow(), runner=second_chunk_fails)
        assert extract_workers_alive() == []  # the pass stopped its extraction pool
        with Session(engine) as s:
            kept = len(repo.list_articles(s, monitor="stream"))
            etags = [f.etag for f in repo_feeds.list_feeds(s, monitor="stream")]
        assert 0 < kept < len(SLUGS) * PER_FEED  # the first chunk was stored, not the rest
        assert etags == [None] * len(SLUGS)  # so every feed is fetched in full again
        again = run_pass(cfg, engine, now=utcnow(), force=True)
    assert again.feeds_not_modified == 0
    assert again.new_articles == len(SLUGS) * PER_FEED - kept
    assert len(stored(cfg)) == len(SLUGS) * PER_FEED  # everything, each once
