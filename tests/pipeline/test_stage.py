"""The staging of a sharded round (`pipeline.stage`), on a real database: candidates survive the
round trip through JSON unchanged, and the staged candidates of several shards come back as one
batch in the order one unsharded run harvests them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from monitors.config import MonitorConfig, parse_config
from monitors.records import ExtractedText, FeedItem
from monitors.shard import Shard
from pipeline.extract import Candidate
from pipeline.stage import (
    candidate_from_json,
    candidate_json,
    stage_candidates,
    take_round,
    wait_for_round,
)

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2023, 9, 11, 13, 31, 34, tzinfo=UTC)


def cand(feed: str, n: int, published: datetime | None) -> Candidate:
    url = f"http://127.0.0.1:9/{feed}/{n}.html"
    item = FeedItem(feed=feed, guid=f"{feed}:{n}", link=url, url=url, title=f"Report {n}",
                    summary="Kim met Putin", published=published, content_hash=f"h{n}")  # fmt: skip
    text = ExtractedText(url=url, title=f"Report {n}", text="Kim and Putin met.", source="page")
    return Candidate(item=item, text=text)


def config(tmp_path: Path) -> MonitorConfig:
    feeds = [{"name": n, "url": f"http://127.0.0.1:9/{n}.xml"} for n in ("a", "b", "c")]
    return parse_config({"name": "m", "seeds": str(REPO / "seeds"), "feeds": feeds,
                         "data_dir": str(tmp_path / "data")})  # fmt: skip


def test_a_candidate_survives_the_json_round_trip() -> None:
    item = FeedItem(feed="wire", guid=None, link="http://x/a?b=1", url="http://x/a",
                    title="Kim–Putin «summit»\x00", summary="", published=None,
                    content_hash="0" * 64)  # fmt: skip
    text = ExtractedText(url="http://x/a", title="Ким и Путин", text="line 1\nline 2 \u2028",
                         source="summary", author="A. Writer", sitename="Wire",
                         published=datetime(2023, 9, 11, 15, 0, tzinfo=UTC) + timedelta(hours=3),
                         language="ru", note="page failed: 503")  # fmt: skip
    for original in (Candidate(item=item, text=text, changed=True), cand("a", 1, T0)):
        assert candidate_from_json(candidate_json(original)) == original


def test_staged_shards_come_back_as_one_batch_in_harvest_order(
    tmp_path: Path, engine: Engine
) -> None:
    cfg = config(tmp_path)
    # shard 1/2 polls feeds a and c, 2/2 polls b; 2/2 stages first
    late, early = T0 + timedelta(days=1), T0
    two = [cand("b", 3, early), cand("b", 4, None)]
    one = [cand("a", 1, late), cand("a", 2, early), cand("c", 5, early)]
    assert stage_candidates(cfg, engine, two, shard=Shard(2, 2), run_id=None, now=T0) == 2
    wait = wait_for_round(cfg, engine, shard=Shard(2, 2), run_id=None, timeout=0)
    assert (wait.arrived, wait.missing) == (["2/2"], ["1/2"])
    assert stage_candidates(cfg, engine, one, shard=Shard(1, 2), run_id=None, now=T0) == 3
    wait = wait_for_round(cfg, engine, shard=Shard(1, 2), run_id=None, timeout=5)
    assert wait.complete and wait.arrived == ["1/2", "2/2"]

    batch = take_round(cfg, engine, run_id=None)

    assert batch is not None and batch.shards == ["1/2", "2/2"] and batch.staged == 5
    # the monitor file's feed order, then each feed's entry order: what one run extracts
    assert batch.candidates == [one[0], one[1], two[0], two[1], one[2]]
