"""One monitoring pass: prepare → poll → extract → process → health → deliver → summarize.

An unsharded pass streams (`pipeline.stream`): poll, extract and process overlap through
bounded queues, processing chunks of `fetch.stream_chunk` articles as extraction finishes them
(one batch, as before, when the pass fits in one chunk).

`run_pass` is the pass. The Prefect flow, `explain`, the tests and the benchmarks all call it
(or the stage functions it calls). A stage runner decides how each stage is called: directly
by default, as a Prefect task in the flow (`flows.monitor_flow`).

A pass of one shard of the monitor (`monitors.shard`) polls only that shard's feeds, and runs
prepare, then process through deliver, inside `serial()` (the flow passes the monitor's lock):
what stores feeds, articles, developments and alerts stays one run at a time per monitor, while
polling and extraction of different shards overlap. Between extract and process it stages its
candidates and waits for the other shards of its round (`pipeline.stage`): one run of the round
processes every shard's candidates as one batch, in the order one unsharded run would.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Engine

from monitors.config import MonitorConfig
from monitors.httpclient import Fetcher
from monitors.secrets import BlockLookup
from monitors.shard import Shard
from pipeline.deliver import deliver_pending
from pipeline.extract import extract_batch
from pipeline.harvest import Harvest, harvest_feed, save_validators
from pipeline.health import check_feed_health
from pipeline.prepare import Prepared, prepare
from pipeline.process import process_batch
from pipeline.stage import (
    StagedBatch,
    round_note,
    stage_candidates,
    take_round,
    wait_for_round,
)
from pipeline.stream import stream_pass
from pipeline.summary import PassSummary, summarize
from storage import repo_feeds
from storage.db import session_scope

T = TypeVar("T")

#: Feeds polled at once in a pass (each also fetches its pages with a few threads, and the
#: fetcher limits requests per host).
POLL_THREADS = 8


class StageRunner(Protocol):
    """Calls one stage of the pass: `runner(stage_name, fn, *args, **kwargs) -> fn's result`."""

    def __call__(self, stage: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` as the stage named `stage`."""
        ...


def call_directly(stage: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """The default stage runner: a plain function call."""
    return fn(*args, **kwargs)


def poll_feeds(
    cfg: MonitorConfig,
    engine: Engine,
    fetcher: Fetcher,
    feeds: list[str],
    *,
    now: datetime,
    runner: StageRunner = call_directly,
    threads: int = POLL_THREADS,
) -> list[Harvest]:
    """Harvest the given feeds concurrently (stage "poll <feed>" each), in the given order."""
    if not feeds:
        return []

    def poll(name: str) -> Harvest:
        return runner(f"poll {name}", harvest_feed, cfg, engine, fetcher, feed_name=name, now=now)

    with ThreadPoolExecutor(max_workers=min(threads, len(feeds))) as pool:
        # each thread runs in a copy of the caller's context (Prefect finds its flow run there)
        futures = [pool.submit(contextvars.copy_context().run, poll, n) for n in feeds]
        return [f.result() for f in futures]


def shard_share(cfg: MonitorConfig, prepared: Prepared, shard: Shard | None) -> Prepared:
    """What `prepare` found, cut down to the feeds of `shard` (all of it without a shard)."""
    if shard is None:
        return prepared
    mine = set(shard.feed_names(cfg))
    return Prepared(
        due_feeds=[f for f in prepared.due_feeds if f in mine],
        skipped_feeds={f: why for f, why in prepared.skipped_feeds.items() if f in mine},
        seeds=prepared.seeds,
    )


def run_pass(
    cfg: MonitorConfig,
    engine: Engine,
    *,
    now: datetime,
    force: bool = False,
    runner: StageRunner = call_directly,
    flow_run_id: str | None = None,
    run_url: str | None = None,
    lookup_block: BlockLookup | None = None,
    fetcher: Fetcher | None = None,
    poll_threads: int = POLL_THREADS,
    shard: Shard | None = None,
    serial: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> PassSummary:
    """Run one monitoring pass of `cfg` at `now`, recorded as a run; returns its summary.

    Unsharded, poll, extract and process overlap (`pipeline.stream`, each chunk processed under
    `serial()`); a shard's run polls, extracts, then meets its round at the barrier.
    `fetcher` (default: a new one for this pass) lets a caller share or inspect the HTTP client.
    `shard` limits polling to that shard's feeds; `serial()` is held around the stages that
    write what other runs of the monitor read (prepare; process through deliver).
    """
    with session_scope(engine) as s:
        run_id = repo_feeds.start_run(
            s, monitor=cfg.name, flow_run_id=flow_run_id, shard=str(shard) if shard else None
        ).id
    with serial():
        prepared = runner("prepare", prepare, cfg, engine, now=now, force=force)
    prepared = shard_share(cfg, prepared, shard)
    staged, wait, streamed = 0, None, None
    with ExitStack() as stack:
        if fetcher is None:
            fetcher = stack.enter_context(Fetcher(cfg.fetch))
        if shard is None:  # poll, extract and process overlap (pipeline.stream)
            streamed = stream_pass(cfg, engine, fetcher, prepared.due_feeds, now=now,
                                   runner=runner, threads=poll_threads, run_id=run_id,
                                   run_url=run_url, serial=serial)  # fmt: skip
        else:
            harvests = poll_feeds(cfg, engine, fetcher, prepared.due_feeds, now=now,
                                  runner=runner, threads=poll_threads)  # fmt: skip
    batch: StagedBatch | None = None
    if streamed is not None:
        harvests, outcomes, batch = streamed.harvests, streamed.outcomes, streamed.batch
    else:  # a shard: the barrier, then the round's candidates are processed as one batch
        candidates = runner("extract", extract_batch, harvests)
        staged = runner("stage", stage_candidates, cfg, engine, candidates, shard=shard,
                        run_id=run_id, now=now)  # fmt: skip
        wait = runner("barrier", wait_for_round, cfg, engine, shard=shard, run_id=run_id,
                      timeout=cfg.shards.barrier_seconds)  # fmt: skip
        outcomes = []
    with serial():
        if streamed is None:
            batch = take_round(cfg, engine, run_id=run_id)
            if batch is not None:
                outcomes = runner("process", process_batch, cfg, engine, batch.candidates,
                                  run_id=run_id, now=now, run_url=run_url,
                                  **batch.hooks())  # fmt: skip
                batch.settle(engine)
        save_validators(cfg, engine, harvests)  # only now: the entries they cover are stored
        health = runner(
            "feed health", check_feed_health, cfg, engine, run_id=run_id, now=now, run_url=run_url
        )
        delivery = runner(
            "deliver", deliver_pending, cfg, engine, now=now, lookup_block=lookup_block
        )
    summary = summarize(
        monitor=cfg.name,
        prepared=prepared,
        harvests=harvests,
        outcomes=outcomes,
        health=health,
        delivery=delivery,
        run_id=run_id,
        run_url=run_url,
    )
    summary.shard = str(shard) if shard else None
    summary.staged_candidates = staged
    summary.shards_missing = wait.missing if wait else []
    summary.round_note = round_note(wait, batch, staged)
    with session_scope(engine) as s:
        repo_feeds.finish_run(s, run_id=run_id or 0, summary=summary.as_dict())
    return summary
