"""The last stage of a pass: a typed summary of what it did, and outcome rows for reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from monitors.kinds import ArticleStatus, PollStatus
from pipeline.deliver import DeliveryReport
from pipeline.harvest import Harvest
from pipeline.prepare import Prepared
from pipeline.process import ArticleOutcome


@dataclass
class PassSummary:
    """What one pass did: counts for the CLI, the run row and the report, and its outcomes."""

    monitor: str
    run_id: int | None = None
    run_url: str | None = None
    feeds_polled: int = 0
    feeds_failed: dict[str, str] = field(default_factory=dict)
    feeds_skipped: dict[str, str] = field(default_factory=dict)
    feeds_not_modified: int = 0
    entries_seen: int = 0
    new_articles: int = 0
    updated_articles: int = 0
    duplicates_of_seeds: int = 0
    duplicates_of_articles: int = 0
    relevant: int = 0
    topics: dict[str, int] = field(default_factory=dict)
    new_developments: int = 0
    alerts_created: int = 0
    alerts_sent: int = 0
    alerts_retrying: int = 0
    alerts_dead: int = 0
    delivery_messages: list[str] = field(default_factory=list)
    possible_gaps: list[str] = field(default_factory=list)
    feed_health: list[str] = field(default_factory=list)
    #: runs of the monitor found dead (killed) when this pass started, one line each
    crashed_runs: list[str] = field(default_factory=list)
    #: seconds this pass waited for another run of the monitor to finish
    lock_wait_seconds: float = 0.0
    #: "K/N" when the pass polled one shard of the monitor's feeds
    shard: str | None = None
    #: candidates a shard's pass staged for its round (`pipeline.stage`); the run that
    #: processed the round counts every shard's articles above, the others none
    staged_candidates: int = 0
    #: shards of the round that had not staged when this pass stopped waiting for them
    shards_missing: list[str] = field(default_factory=list)
    #: how the pass met its round (or processed candidates left staged), one line
    round_note: str = ""
    #: how the pass ended (`ok`, `partial`, `failed`) and its one-line headline
    status: str = "ok"
    headline: str = ""
    #: one outcome per processed entry (not part of `as_dict`: the run row keeps the counts)
    outcomes: list[ArticleOutcome] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The counts as a JSON-ready dict (stored with the run, printed by the CLI)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "outcomes"}


def summarize(
    *,
    monitor: str,
    prepared: Prepared,
    harvests: list[Harvest],
    outcomes: list[ArticleOutcome],
    health: list[str],
    delivery: DeliveryReport,
    run_id: int | None = None,
    run_url: str | None = None,
) -> PassSummary:
    """The summary of a pass from what each stage returned."""
    topics: dict[str, int] = {}
    for o in outcomes:
        if o.duplicate is None:
            for t in o.topics:
                topics[t] = topics.get(t, 0) + 1
    failed = (PollStatus.FAILED, PollStatus.GONE)
    return PassSummary(
        monitor=monitor,
        run_id=run_id,
        run_url=run_url,
        feeds_polled=len(harvests),
        feeds_failed={h.feed: h.message for h in harvests if h.status in failed},
        feeds_skipped=prepared.skipped_feeds,
        feeds_not_modified=sum(h.status == PollStatus.NOT_MODIFIED for h in harvests),
        entries_seen=sum(h.items_seen for h in harvests),
        new_articles=sum(o.status == ArticleStatus.NEW for o in outcomes),
        updated_articles=sum(o.status == ArticleStatus.UPDATED for o in outcomes),
        duplicates_of_seeds=sum(
            o.duplicate is not None and o.duplicate.kind == "seed" for o in outcomes
        ),
        duplicates_of_articles=sum(
            o.duplicate is not None and o.duplicate.kind == "article" for o in outcomes
        ),
        relevant=sum(o.relevant for o in outcomes),
        topics=dict(sorted(topics.items())),
        new_developments=sum(o.new_development for o in outcomes),
        alerts_created=sum(o.alerts for o in outcomes),
        alerts_sent=delivery.sent,
        alerts_retrying=delivery.retrying,
        alerts_dead=delivery.dead,
        delivery_messages=delivery.messages,
        possible_gaps=[h.feed for h in harvests if h.possible_gap],
        feed_health=health,
        outcomes=outcomes,
    )


def outcome_rows(outcomes: list[ArticleOutcome]) -> list[dict[str, Any]]:
    """Outcomes as flat dicts (for artifacts and exports)."""
    rows = []
    for o in outcomes:
        d = asdict(o)
        d["duplicate"] = (
            f"{o.duplicate.kind}:{o.duplicate.ref} ({o.duplicate.level} {o.duplicate.score:.0f})"
            if o.duplicate
            else ""
        )
        d["topics"] = ", ".join(o.topics)
        rows.append(d)
    return rows
