"""The persisted dedup index gives the verdicts of an index built from every stored text."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlmodel import Session

from monitors.clock import utcnow
from monitors.config import MonitorConfig, parse_config
from monitors.dedup import DedupIndex
from monitors.dedup_records import record_of
from monitors.records import ExtractedText, FeedItem
from monitors.text import text_hash
from pipeline import dedup_index
from pipeline.extract import Candidate
from pipeline.process import process_batch
from storage import dedup_store
from storage import repository as repo
from storage.db import get_engine, session_scope
from storage.models import Article

PAIRS = Path(__file__).resolve().parents[1] / "data" / "dedup" / "pairs.json.gz"


def _config(tmp_path: Path, url: str) -> MonitorConfig:
    return parse_config(
        {
            "name": "m",
            "seeds": str(tmp_path),
            "data_dir": str(tmp_path / "data"),
            "database_url": url,
            "feeds": [{"name": "f", "url": "http://127.0.0.1:9/f.xml"}],
        }
    )


@pytest.mark.slow
def test_a_pass_index_finds_what_a_full_rebuild_finds_on_the_labelled_pairs(
    tmp_path: Path, db_url: str
) -> None:
    """Every query of the labelled pair set (1,669 pairs: near, containment, title, exact,
    spun seeds and negatives) gets the same verdict from the pass index (seeds + stored
    articles read back from the dedup tables, indexed by the backfill) as from an in-memory
    index holding every text."""
    with gzip.open(PAIRS, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    cfg = _config(tmp_path, db_url)
    engine = get_engine(db_url)
    now = utcnow()
    seeds = sorted((k, d) for k, d in data["docs"].items() if d["kind"] == "seed")
    articles = [(k, d) for k, d in data["docs"].items() if d["kind"] != "seed"]
    with session_scope(engine) as s:
        repo.sync_seeds(
            s,
            monitor="m",
            seeds=[
                {"seed_id": k, "title": d["title"], "text": d["text"], "text_hash": "h"}
                for k, d in seeds
            ],
        )
        rows = [
            Article(
                monitor="m",
                url=f"https://x.test/{k}",
                link=f"https://x.test/{k}",
                title=d["title"],
                text=d["text"],
                content_hash="c",
                text_hash=text_hash(d["text"]),
                first_seen_at=now,
                updated_at=now,
            )
            for k, d in articles
        ]
        s.add_all(rows)
        s.flush()
        ids = {k: str(a.id) for (k, _), a in zip(articles, rows, strict=True)}
    assert dedup_index.backfill(cfg, engine) == len(articles)
    assert dedup_index.backfill(cfg, engine) == 0  # nothing left: a later pass does no work
    with Session(engine) as s:  # the next pass starts after the newest article
        assert dedup_store.indexed_through(s, monitor="m") == max(int(i) for i in ids.values())

    full = DedupIndex(cfg.dedup)
    for k, d in seeds:
        full.add(key=k, kind="seed", text=d["text"], title=d["title"])
    for k, d in articles:
        full.add(key=ids[k], kind="article", text=d["text"], title=d["title"])
    queries = [(p["b_title"], p["b_text"]) for p in data["pairs"]]
    with Session(engine) as s:
        pass_index = dedup_index.open_pass_index(cfg, engine, s, queries)
    assert len(pass_index.index) < len(full)  # only what the queries collide with is loaded
    differ = []
    found = 0
    for (title, text), f in zip(queries, pass_index.features, strict=True):
        want = full.find(text=text, title=title)
        got = pass_index.index.find(features=f)
        found += want is not None
        if want != got:
            differ.append((title, want, got))
    assert found > len(queries) // 2
    assert differ == []


def test_a_changed_article_is_re_indexed_under_its_new_text(
    tmp_path: Path, sqlite_url: str
) -> None:
    cfg = _config(tmp_path, sqlite_url)
    engine = get_engine(sqlite_url)
    old = "the old story " * 30 + "about sanctions and missiles in the far east"
    new = "an entirely different report " * 20 + "on grain exports through the black sea"
    with session_scope(engine) as s:
        a = Article(monitor="m", url="https://x.test/a", link="https://x.test/a", title="A story",
                    text=old, content_hash="c", text_hash="h", first_seen_at=utcnow(),
                    updated_at=utcnow())  # fmt: skip
        s.add(a)
        s.flush()
        index = dedup_index.seed_index(cfg, engine, s)
        f_old = index.features(text=old, title="A story")
        dedup_index.write_records(s, cfg=cfg, records=[(a.id or 0, record_of(f_old, cfg.dedup))])
        dedup_store.delete_dedup_entries(s, article_ids=[a.id or 0])
        f_new = index.features(text=new, title="A story")
        dedup_index.write_records(s, cfg=cfg, records=[(a.id or 0, record_of(f_new, cfg.dedup))])
    with Session(engine) as s:
        pi = dedup_index.open_pass_index(cfg, engine, s, [("x", old), ("y", new)])
    assert pi.index.find(features=pi.features[0]) is None
    match = pi.index.find(features=pi.features[1])
    assert match is not None and match.kind == "article" and match.level == "exact"


def _candidate(url: str, title: str, text: str) -> Candidate:
    item = FeedItem(feed="f", guid=None, link=url, url=url, title=title, summary="",
                    published=None, content_hash=url)  # fmt: skip
    return Candidate(item=item, text=ExtractedText(url=url, title=title, text=text, source="page"))


def test_a_later_pass_finds_a_copy_of_an_article_stored_by_an_earlier_one(
    tmp_path: Path, db_url: str
) -> None:
    """Pass 1 stores an article with its index rows; pass 2 (a new process would start the
    same way: nothing in memory) finds a lightly edited copy of it through those rows."""
    cfg = _config(tmp_path, db_url)
    engine = get_engine(db_url)
    with gzip.open(PAIRS, "rt", encoding="utf-8") as fh:
        long_texts = [d for d in json.load(fh)["docs"].values()
                      if d["kind"] != "seed" and len(d["text"].split()) > 150][:3]  # fmt: skip
    first = [_candidate(f"https://a.test/{i}", d["title"], d["text"])
             for i, d in enumerate(long_texts)]  # fmt: skip
    out1 = process_batch(cfg, engine, first, run_id=None, now=utcnow())
    assert [o.duplicate for o in out1] == [None, None, None]
    with Session(engine) as s:
        ids = [o.article_id or 0 for o in out1]
        assert len(dedup_store.dedup_docs(s, article_ids=ids)) == 3
    copy = "Updated: " + long_texts[1]["text"].replace(".", ";", 3)
    out2 = process_batch(cfg, engine, [_candidate("https://b.test/x", "Other title", copy)],
                         run_id=None, now=utcnow())  # fmt: skip
    match = out2[0].duplicate
    assert match is not None and match.kind == "article" and match.ref == str(out1[1].article_id)
    assert match.level in ("near", "containment")
