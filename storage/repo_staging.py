"""Repository functions for the staged candidates of sharded rounds, keyword-only arguments.

A monitor's open round is every `StagedCandidate` and `StagedShard` row it has: processing the
round deletes the rows it read, so the next staging opens the next round (`pipeline.stage`).
Like `storage.repository`, none of them commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from storage.models import Run, StagedCandidate, StagedShard


def stage(
    session: Session,
    *,
    monitor: str,
    shard: str,
    run_id: int | None,
    rows: Sequence[tuple[str, str]],
    now: datetime,
) -> StagedShard:
    """Stage (feed, payload) rows in their order, and the shard's arrival in the open round."""
    for position, (feed, payload) in enumerate(rows):
        session.add(
            StagedCandidate(
                monitor=monitor,
                shard=shard,
                run_id=run_id,
                feed=feed,
                position=position,
                staged_at=now,
                payload=payload,
            )
        )
    marker = StagedShard(
        monitor=monitor, shard=shard, run_id=run_id, candidates=len(rows), staged_at=now
    )
    session.add(marker)
    session.flush()
    return marker


def arrived_shards(session: Session, *, monitor: str) -> list[StagedShard]:
    """The arrivals in the monitor's open round whose run is still running (or has no run row),
    oldest first: a crashed or failed run's arrival no longer counts."""
    rows = session.exec(
        select(StagedShard, Run)
        .join(Run, col(Run.id) == col(StagedShard.run_id), isouter=True)
        .where(StagedShard.monitor == monitor)
        .order_by(col(StagedShard.id))
    )
    return [m for m, run in rows if run is None or run.finished_at is None]


def has_arrival(session: Session, *, monitor: str, run_id: int | None) -> bool:
    """Whether the arrival staged by run `run_id` is still in the monitor's open round."""
    found = session.exec(
        select(StagedShard.id).where(StagedShard.monitor == monitor, StagedShard.run_id == run_id)
    ).first()
    return found is not None


def open_round(session: Session, *, monitor: str) -> tuple[list[StagedCandidate], list[int]]:
    """Every staged candidate of the monitor (oldest first) and the ids of its arrivals."""
    candidates = list(
        session.exec(
            select(StagedCandidate)
            .where(StagedCandidate.monitor == monitor)
            .order_by(col(StagedCandidate.id))
        )
    )
    arrivals = [
        int(i)
        for i in session.exec(select(StagedShard.id).where(StagedShard.monitor == monitor))
        if i is not None
    ]
    return candidates, arrivals


def count_staged(session: Session, *, monitor: str) -> int:
    """How many candidates and arrivals the monitor has staged (0: no round is open)."""
    total = 0
    for table in (StagedCandidate, StagedShard):
        query = select(func.count()).select_from(table).where(col(table.monitor) == monitor)
        total += int(session.exec(query).one())
    return total


def delete_staged(
    session: Session, *, candidate_ids: Sequence[int], arrival_ids: Sequence[int] = ()
) -> None:
    """Delete staged candidates and arrivals by id (ids already deleted are ignored)."""
    if candidate_ids:
        session.execute(delete(StagedCandidate).where(col(StagedCandidate.id).in_(candidate_ids)))
    if arrival_ids:
        session.execute(delete(StagedShard).where(col(StagedShard.id).in_(arrival_ids)))
