"""The persisted dedup index (storage.dedup_store), on SQLite and on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.clock import utcnow
from storage import dedup_store as ds
from storage.db import session_scope
from storage.models import Article, DedupDoc

BIG = -(2**63)  # keys are int64: the extremes must round-trip


def _articles(s: Session, monitor: str, n: int) -> list[int]:
    now = utcnow()
    rows = [
        Article(
            monitor=monitor,
            url=f"https://x.test/{monitor}/{i}",
            link=f"https://x.test/{monitor}/{i}",
            title=f"title {i}",
            text=f"text of {monitor} {i}",
            content_hash="c",
            text_hash="h",
            first_seen_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]
    s.add_all(rows)
    s.flush()
    return [a.id or 0 for a in rows]


def _doc(aid: int, exact: bytes | None = None) -> DedupDoc:
    return DedupDoc(
        article_id=aid,
        monitor="",
        n_words=120,
        title_norm=f"title {aid}",
        exact=exact,
        shingles=bytes(range(8)),
    )


def test_migration_creates_the_indexed_tables(engine: Engine) -> None:
    insp = inspect(engine)
    assert {"dedup_doc", "dedup_band"} <= set(insp.get_table_names())
    assert insp.get_pk_constraint("dedup_band")["constrained_columns"] == [
        "monitor",
        "band",
        "key",
        "article_id",
    ]


def test_band_hits_are_the_newest_per_bucket_of_the_monitor_only(engine: Engine) -> None:
    with session_scope(engine) as s:
        ids = _articles(s, "m", 5)
        other = _articles(s, "other", 1)
        bands = [(0, 42, a) for a in ids] + [(1, BIG, ids[0]), (0, 2**63 - 1, ids[1])]
        bands.append((0, 42, ids[2]))  # repeated chunk key: stored once
        ds.add_dedup_entries(s, monitor="m", docs=[_doc(a) for a in ids], bands=bands)
        ds.add_dedup_entries(s, monitor="other", docs=[_doc(other[0])], bands=[(0, 42, other[0])])
    with Session(engine) as s:
        hits = ds.band_hits(s, monitor="m", probes=[(0, 42), (1, BIG), (2, 42)], cap=3)
        extremes = ds.band_hits(s, monitor="m", probes=[(0, 2**63 - 1)], cap=3)
    assert hits == [(0, 42, ids[4]), (0, 42, ids[3]), (0, 42, ids[2]), (1, BIG, ids[0])]
    assert extremes == [(0, 2**63 - 1, ids[1])]


def test_docs_exact_hashes_and_deletion_round_trip(engine: Engine) -> None:
    h1, h2 = b"\x01" * 32, b"\x02" * 32
    with session_scope(engine) as s:
        a, b = _articles(s, "m", 2)
        ds.add_dedup_entries(
            s, monitor="m", docs=[_doc(a, h1), _doc(b, h2)], bands=[(0, 7, a), (0, 7, b)]
        )
    with Session(engine) as s:
        assert sorted(ds.exact_hits(s, monitor="m", hashes=[h1, h2, b"\x03" * 32])) == [
            (h1, a),
            (h2, b),
        ]
        assert ds.exact_hits(s, monitor="other", hashes=[h1]) == []
        docs = {d.article_id: (d, t) for d, t in ds.dedup_docs(s, article_ids=[a, b, 999_999])}
        assert set(docs) == {a, b}
        assert docs[a][0].shingles == bytes(range(8)) and docs[a][0].monitor == "m"
        assert docs[b][1] == "title 1"
        assert ds.article_texts(s, article_ids=[a]) == {a: ("title 0", "text of m 0")}
    with session_scope(engine) as s:
        ds.delete_dedup_entries(s, article_ids=[a])
    with Session(engine) as s:
        assert ds.band_hits(s, monitor="m", probes=[(0, 7)], cap=9) == [(0, 7, b)]
        assert [d.article_id for d, _ in ds.dedup_docs(s, article_ids=[a, b])] == [b]


def test_index_tail_lists_articles_after_the_recorded_progress(engine: Engine) -> None:
    with session_scope(engine) as s:
        ids = _articles(s, "m", 4)
        _articles(s, "other", 2)
        ds.add_dedup_entries(s, monitor="m", docs=[_doc(ids[1])], bands=[])
    with Session(engine) as s:
        assert ds.indexed_through(s, monitor="m") == 0
        head = ds.index_tail(s, monitor="m", after=0, limit=2)
        rest = ds.index_tail(s, monitor="m", after=ids[1], limit=10)
    assert head == [(ids[0], False), (ids[1], True)]
    assert rest == [(ids[2], False), (ids[3], False)]
    with session_scope(engine) as s:
        ds.set_indexed_through(s, monitor="m", article_id=ids[2])
    with session_scope(engine) as s:
        ds.set_indexed_through(s, monitor="m", article_id=ids[1])  # never goes back
    with Session(engine) as s:
        assert ds.indexed_through(s, monitor="m") == ids[2]
        assert ds.indexed_through(s, monitor="other") == 0


def test_migration_0008_keeps_band_rows_and_drops_the_rowid_on_sqlite(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from storage.db import alembic_config, make_engine, migrate

    engine = make_engine(db_url)
    migrate(engine, "0007")
    with session_scope(engine) as s:
        a, b = _articles(s, "m", 2)
        ds.add_dedup_entries(s, monitor="m", docs=[], bands=[(0, BIG, a), (0, BIG, b), (3, 9, a)])

    def kind() -> str:
        with engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                return "postgresql"
            sql = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'dedup_band'")
            ).scalar_one()
            return "without rowid" if "WITHOUT ROWID" in sql.upper() else "rowid"

    def hits() -> list[tuple[int, int, int]]:
        with Session(engine) as s:
            return ds.band_hits(s, monitor="m", probes=[(0, BIG), (3, 9)], cap=5)

    assert kind() in {"rowid", "postgresql"}
    before = hits()
    assert before == [(0, BIG, b), (0, BIG, a), (3, 9, a)]
    migrate(engine, "0008")
    assert kind() in {"without rowid", "postgresql"}
    assert hits() == before
    assert "ix_dedup_band_article" in {i["name"] for i in inspect(engine).get_indexes("dedup_band")}
    with session_scope(engine) as s:  # the article index still serves deletion
        ds.delete_dedup_entries(s, article_ids=[a])
    assert hits() == [(0, BIG, b)]
    with engine.begin() as conn:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    assert kind() in {"rowid", "postgresql"}
    assert hits() == [(0, BIG, b)]
    engine.dispose()
