"""A running story through the process stage, pass by pass, on a real database: follow-ups join
it without alerting, and a new fact two outlets report becomes one new development (one
alert, announcing the first report) split off the story."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlmodel import Session

from monitors.config import MonitorConfig, parse_config
from monitors.records import ExtractedText, FeedItem
from pipeline.extract import Candidate
from pipeline.prepare import prepare
from pipeline.process import ArticleOutcome, process_batch
from storage import repo_alerts
from storage.db import get_engine
from storage.models import Article, Development

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2023, 8, 23, 18, tzinfo=UTC)
OUTLETS = ["abcnews", "bbc-news", "ft-world", "guardian", "nbcnews-world", "nytimes-world",
           "skynews-world", "thehill", "wsj-world", "foxnews"]  # fmt: skip
CRASH = [
    ("Wagner chief Prigozhin on passenger list of plane that crashed in Tver region",
     "A private jet crashed north of Moscow with ten people on board, officials said."),
    ("Prigozhin plane crash: ten dead as private jet falls in Tver region",
     "Emergency services found the wreckage of the jet near the village of Kuzhenkino."),
]  # fmt: skip


def config(tmp_path: Path, db_url: str) -> MonitorConfig:
    """The Wagner replay monitor (config/wagner.yaml) on a fresh database, no seeds."""
    data = yaml.safe_load((REPO / "config" / "wagner.yaml").read_text(encoding="utf-8"))
    (tmp_path / "seeds").mkdir()
    data.update(seeds=str(tmp_path / "seeds"), data_dir=str(tmp_path / "data"),
                database_url=db_url)  # fmt: skip
    return parse_config(data, path=REPO / "config" / "wagner.yaml")


def report(feed: str, n: int, title: str, text: str, published: datetime) -> Candidate:
    url = f"http://127.0.0.1:9/{feed}/{n}.html"
    digest = hashlib.sha256(f"{title}{text}".encode()).hexdigest()
    item = FeedItem(feed=feed, guid=url, link=url, url=url, title=title, summary=text,
                    published=published, content_hash=digest)  # fmt: skip
    return Candidate(item=item, text=ExtractedText(url=url, title=title, text=text, source="page"))


def run(
    cfg: MonitorConfig, db_url: str, batch: list[Candidate], now: datetime
) -> list[ArticleOutcome]:
    return process_batch(cfg, get_engine(db_url), batch, run_id=None, now=now)


def test_follow_ups_join_and_a_corroborated_new_fact_alerts_once(
    tmp_path: Path, sqlite_url: str
) -> None:
    cfg = config(tmp_path, sqlite_url)
    prepare(cfg, get_engine(sqlite_url), now=T0, force=True)
    crash = [
        report(feed, i, *CRASH[i % 2], T0 + timedelta(minutes=10 * i))
        for i, feed in enumerate(OUTLETS * 2)
    ]
    out1 = run(cfg, sqlite_url, crash, T0 + timedelta(hours=4))
    story = {o.development_id for o in out1}
    assert len(story) == 1 and None not in story, [o.note for o in out1]
    later = T0 + timedelta(hours=23)
    follow_up = report("foxnews", 100, "Final breakfast of the only woman killed on Prigozhin's"
                       " plane crash jet", "The stewardess posted a photo before the crash.",
                       later)  # fmt: skip
    first = report("skynews-world", 101, "Putin sends condolences after Prigozhin jet crash, "
                   "says he made mistakes", "Putin called him a talented businessman who made"
                   " serious mistakes in his life.", later)  # fmt: skip
    (o_follow, o_first) = run(cfg, sqlite_url, [follow_up, first], later + timedelta(minutes=5))
    assert o_follow.development_id in story and not o_follow.new_development, o_follow.note
    assert o_first.development_id in story and not o_first.new_development, o_first.note
    second = report(
        "abcnews",
        102,
        "Putin breaks silence on Prigozhin plane crash: condolences, he made serious mistakes",
        "In his first comments Putin offered condolences and said he made mistakes.",
        later + timedelta(hours=1),
    )
    (o_second,) = run(cfg, sqlite_url, [second], later + timedelta(hours=1, minutes=5))
    channels = out1[0].alerts  # the story's first report alerted once on each channel
    assert o_second.new_development and o_second.alerts == channels >= 1, o_second.note
    assert "running story" in o_second.note and "Sky News" in o_second.note
    with Session(get_engine(sqlite_url)) as s:
        dev = s.get(Development, o_second.development_id)
        assert dev is not None and dev.parent_id in story
        assert dev.title.startswith("Putin sends condolences")  # the first report's headline
        moved = s.get(Article, o_first.article_id)
        assert moved is not None and moved.development_id == dev.id
        alerts = repo_alerts.list_alerts(s, monitor=cfg.name)
        new_dev = [a for a in alerts if a.development_id == dev.id]
        # the crash, and the new fact once (on each channel)
        assert len(alerts) == 2 * channels and len(new_dev) == channels
        links = [src["url"] for src in (new_dev[0].payload or {})["sources"]]
        assert links == [first.item.link, second.item.link]


def test_a_second_fact_hours_after_a_sibling_under_its_topic_joins_it_with_no_new_alert(
    tmp_path: Path, sqlite_url: str
) -> None:
    cfg = config(tmp_path, sqlite_url)
    engine = get_engine(sqlite_url)
    prepare(cfg, engine, now=T0, force=True)
    crash = [
        report(feed, i, *CRASH[i % 2], T0 + timedelta(minutes=10 * i))
        for i, feed in enumerate(OUTLETS * 2)
    ]
    run(cfg, sqlite_url, crash, T0 + timedelta(hours=4))
    later = T0 + timedelta(hours=40)
    attend = [
        report("skynews-world", 200, "Putin will not attend the funeral of Prigozhin",
               "Putin will not attend the funeral of the Wagner chief killed in the jet crash.",
               later),
        report("abcnews", 201, "Kremlin: Putin has no plans to attend Prigozhin funeral",
               "Peskov said Putin would not attend the funeral of Prigozhin, killed in the "
               "private jet crash.", later + timedelta(minutes=30)),
    ]  # fmt: skip
    o_attend = run(cfg, sqlite_url, attend, later + timedelta(hours=1))
    fact = o_attend[1].development_id
    assert o_attend[1].new_development and o_attend[1].alerts >= 1, o_attend[1].note
    burial = later + timedelta(hours=3)
    first = report("wsj-world", 300, "Prigozhin buried privately in St Petersburg cemetery",
                   "A private ceremony was held at the cemetery after the jet crash.",
                   burial)  # fmt: skip
    second = report("bbc-news", 301,
                    "Wagner chief buried in private ceremony at St Petersburg cemetery",
                    "The private ceremony for the jet crash victim was closed to the press.",
                    burial + timedelta(minutes=30))  # fmt: skip
    (o_first,) = run(cfg, sqlite_url, [first], burial + timedelta(minutes=5))
    assert o_first.development_id != fact and not o_first.new_development, o_first.note
    (o_second,) = run(cfg, sqlite_url, [second], burial + timedelta(minutes=35))
    assert o_second.development_id == fact and not o_second.new_development, o_second.note
    assert o_second.alerts == 0 and "split from it within 6 hours" in o_second.note
    with Session(engine) as s:
        moved = s.get(Article, o_first.article_id)
        assert moved is not None and moved.development_id == fact  # the first burial report too
        dev = s.get(Development, fact)
        assert dev is not None and dev.article_count == 4 and len(dev.outlets or []) == 4
