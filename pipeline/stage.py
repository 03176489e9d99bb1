"""The barrier between the shards of one round: their candidates are processed as one batch.

Grouping into developments depends on the order articles are processed in, and `process_batch`
orders one batch by (published, feed, URL). So that N shards store what one unsharded run
stores (the same developments and alerts), each shard's run, after extraction:

1. stages its candidates in the database (`staged_candidate`, the Candidate as JSON) with its
   arrival (`staged_shard`), in one transaction (`stage_candidates`);
2. waits, outside the monitor's lock, until every shard 1..N has arrived in the monitor's open
   round, or `shards.barrier_seconds` of the monitor file have passed (`wait_for_round`,
   polling every BARRIER_POLL_SECONDS);
3. under the monitor's lock, if its own arrival is still staged, takes every staged candidate of
   the monitor (every shard's, and any left over by a killed run) and processes them as one
   batch; each transaction of `process_batch` deletes the staged rows of the articles it stores
   (`StagedBatch.on_store`), so nothing is stored twice or dropped. If its arrival is gone, a
   peer run of the round processed its candidates, and it processes nothing (`take_round`).

A round is open from the first staging after the last processing: processing deletes the
staged rows it read, the next staging opens the next round. A shard has arrived when it staged
in the open round and its run is still running (the arrival of a run closed as crashed or
failed no longer counts; its candidates are processed with the next round). A run whose peers
never arrive processes what is staged when the wait expires, and says which shards were missing.
An unsharded run stages nothing; it processes any candidates left staged with its own
(`leftover_batch`), so a monitor that stops being sharded drops nothing either.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.config import MonitorConfig
from monitors.records import ExtractedText, FeedItem
from monitors.shard import Shard, parse_shard
from pipeline.extract import Candidate
from storage import repo_staging
from storage.db import session_scope
from storage.models import StagedCandidate

#: How often a shard's run looks whether the other shards of its round have arrived.
BARRIER_POLL_SECONDS = 0.5


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _unstamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def candidate_json(cand: Candidate) -> str:
    """A candidate as JSON text (every field of its entry and extracted text)."""
    item, text = asdict(cand.item), asdict(cand.text)
    item["published"], text["published"] = _stamp(cand.item.published), _stamp(cand.text.published)
    return json.dumps({"item": item, "text": text, "changed": cand.changed}, ensure_ascii=False)


def candidate_from_json(payload: str) -> Candidate:
    """The candidate `candidate_json` wrote."""
    data: dict[str, Any] = json.loads(payload)
    item, text = data["item"], data["text"]
    item["published"], text["published"] = _unstamp(item["published"]), _unstamp(text["published"])
    return Candidate(
        item=FeedItem(**item), text=ExtractedText(**text), changed=bool(data["changed"])
    )


def stage_candidates(
    cfg: MonitorConfig,
    engine: Engine,
    candidates: list[Candidate],
    *,
    shard: Shard,
    run_id: int | None,
    now: datetime,
) -> int:
    """Stage a shard's candidates and its arrival in the monitor's open round; returns how many."""
    rows = [(c.item.feed, candidate_json(c)) for c in candidates]
    with session_scope(engine) as s:
        repo_staging.stage(s, monitor=cfg.name, shard=str(shard), run_id=run_id, rows=rows, now=now)
    return len(rows)


@dataclass
class RoundWait:
    """How a shard's wait at the barrier ended: the shards arrived, those missing, the wait."""

    shard: str
    arrived: list[str]
    missing: list[str]
    waited: float
    #: the run's own arrival went while it waited: a peer run processed the round
    taken: bool = False

    @property
    def complete(self) -> bool:
        """Every shard of the round has arrived."""
        return not self.missing


def wait_for_round(
    cfg: MonitorConfig,
    engine: Engine,
    *,
    shard: Shard,
    run_id: int | None,
    timeout: float,
    poll_seconds: float = BARRIER_POLL_SECONDS,
) -> RoundWait:
    """Wait until shards 1..N have all arrived in the monitor's open round, or a peer run has
    processed the round (this run's arrival is gone), or `timeout` seconds have passed."""
    started = time.monotonic()
    everyone = [str(Shard(k, shard.count)) for k in range(1, shard.count + 1)]
    while True:
        with Session(engine) as s:
            arrivals = repo_staging.arrived_shards(s, monitor=cfg.name)
        here = {m.shard for m in arrivals}
        missing = [k for k in everyone if k not in here]
        waited = round(time.monotonic() - started, 1)
        arrived = [k for k in everyone if k in here]
        if all(m.run_id != run_id for m in arrivals):  # processed while we looked away
            return RoundWait(str(shard), arrived, [], waited, taken=True)
        if not missing or waited >= timeout:
            return RoundWait(str(shard), arrived, missing, waited)
        time.sleep(min(poll_seconds, max(timeout - waited, 0.0)))


@dataclass
class StagedBatch:
    """What one run processes: candidates in harvest order, and the staged rows behind them."""

    candidates: list[Candidate]
    #: staged row id of each staged candidate, by `id()` of the candidate object
    row_of: dict[int, int] = field(default_factory=dict)
    #: rows deleted with the batch's last transaction: arrivals, and staged duplicates dropped
    rest: list[int] = field(default_factory=list)
    arrivals: list[int] = field(default_factory=list)
    #: shards whose staged candidates are in the batch ("K/N"), and how many were staged
    shards: list[str] = field(default_factory=list)
    staged: int = 0

    def on_store(self, session: Session, stored: list[Candidate], last: bool) -> None:
        """`process_batch`'s hook: delete the staged rows of what this transaction stores."""
        ids = [self.row_of[id(c)] for c in stored if id(c) in self.row_of]
        if last:
            repo_staging.delete_staged(session, candidate_ids=ids + self.rest,
                                       arrival_ids=self.arrivals)  # fmt: skip
        else:
            repo_staging.delete_staged(session, candidate_ids=ids)

    def hooks(self) -> dict[str, Any]:
        """Keyword arguments for `process_batch` (none when nothing of the batch is staged)."""
        return {"on_store": self.on_store} if self.row_of or self.rest or self.arrivals else {}

    def settle(self, engine: Engine) -> None:
        """Delete the staged rows of a batch with no candidate (process_batch ran no hook)."""
        if not self.candidates and (self.rest or self.arrivals):
            with session_scope(engine) as s:
                repo_staging.delete_staged(s, candidate_ids=self.rest, arrival_ids=self.arrivals)


def _batch(cfg: MonitorConfig, rows: list[StagedCandidate], arrivals: list[int],
           own: list[Candidate]) -> StagedBatch:  # fmt: skip
    """Own candidates first, then the staged rows in the order one unsharded run harvests them
    (feed order of the monitor file, then entry order); one per (feed, URL), the latest."""
    batch = StagedBatch(candidates=list(own), arrivals=arrivals, staged=len(rows))
    seen = {(c.item.feed, c.item.url) for c in own}
    latest_first = sorted(rows, key=lambda r: -(r.id or 0))
    keep: list[tuple[StagedCandidate, Candidate]] = []
    for row in latest_first:
        cand = candidate_from_json(row.payload)
        if (cand.item.feed, cand.item.url) in seen:
            batch.rest.append(row.id or 0)
            continue
        seen.add((cand.item.feed, cand.item.url))
        keep.append((row, cand))
    place = {f.name: i for i, f in enumerate(cfg.feeds)}
    keep.sort(key=lambda rc: (place.get(rc[0].feed, len(place)), rc[0].position, rc[0].id or 0))
    for row, cand in keep:
        batch.candidates.append(cand)
        batch.row_of[id(cand)] = row.id or 0
    batch.shards = sorted({r.shard for r in rows}, key=_shard_key)
    return batch


def _shard_key(name: str) -> tuple[int, int]:
    part = parse_shard(name)
    return (part.count, part.index) if part else (0, 0)


def take_round(cfg: MonitorConfig, engine: Engine, *, run_id: int | None) -> StagedBatch | None:
    """Under the monitor's lock: the open round's staged candidates as one batch, or None when
    this run's arrival is gone (a peer run processed the round)."""
    with Session(engine) as s:
        if not repo_staging.has_arrival(s, monitor=cfg.name, run_id=run_id):
            return None
        rows, arrivals = repo_staging.open_round(s, monitor=cfg.name)
    return _batch(cfg, rows, arrivals, [])


def leftover_batch(cfg: MonitorConfig, engine: Engine, own: list[Candidate]) -> StagedBatch:
    """An unsharded run's batch: its own candidates, and any left staged (by a killed shard run,
    or before the monitor stopped being sharded)."""
    with Session(engine) as s:
        if not repo_staging.count_staged(s, monitor=cfg.name):
            return StagedBatch(candidates=own)
        rows, arrivals = repo_staging.open_round(s, monitor=cfg.name)
    return _batch(cfg, rows, arrivals, own)


def round_note(wait: RoundWait | None, batch: StagedBatch | None, staged: int) -> str:
    """One line on how a shard's run met its round (what the summary and the log say)."""
    if wait is None:
        if batch is None or not batch.staged:
            return ""
        return f"also processed {batch.staged} candidate(s) left staged by earlier runs"
    head = f"staged {staged} candidate(s) as shard {wait.shard}"
    if not wait.complete:
        head += (
            f"; waited {wait.waited:.0f} s, shard(s) {', '.join(wait.missing)} never staged "
            "(crashed or late)"
        )
    if batch is None:
        return f"{head}; processed by a peer run of the round"
    return (
        f"{head}; processed the round: {len(batch.candidates)} candidate(s) of shard(s) "
        f"{', '.join(batch.shards) or '-'} as one batch"
    )
