"""Repository functions of the persisted dedup index (`dedup_doc`, `dedup_band`), keyword-only.

A stored article's band keys and verification features are written in the transaction that
stores it; a pass asks only for the rows its new articles collide with, so its cost follows
what is new, not what is stored. No function commits: the pass owns the transaction.
Keys are signed 64-bit integers (the LSH's unsigned keys viewed as int64).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, delete
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import Article, DedupBand, DedupDoc, DedupProgress

#: Probes or ids per statement (SQLite allows 32,766 bound parameters; a probe takes 2).
CHUNK = 2000


def add_dedup_entries(
    session: Session,
    *,
    monitor: str,
    docs: Sequence[DedupDoc],
    bands: Sequence[tuple[int, int, int]],
) -> None:
    """Insert articles' features and their (band, key, article_id) rows, in bulk (one
    `executemany` per table: no ORM objects)."""
    doc_rows = [
        (d.article_id, monitor, d.n_words, d.title_norm, d.short_norm, d.exact, d.shingles)
        for d in docs
    ]
    # a text repeating a chunk repeats its keys
    band_rows = [(monitor, b, k, a) for b, k, a in sorted(set(bands))]
    _insert_many(session, DedupDoc.__table__, _DOC_COLUMNS, doc_rows)  # type: ignore[attr-defined]
    _insert_many(session, DedupBand.__table__, _BAND_COLUMNS, band_rows)  # type: ignore[attr-defined]


_DOC_COLUMNS = ("article_id", "monitor", "n_words", "title_norm", "short_norm", "exact", "shingles")
_BAND_COLUMNS = ("monitor", "band", "key", "article_id")


def _insert_many(
    session: Session, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """INSERT `rows` (values of `columns`, in order) into `table` in the session's transaction.

    On SQLite the rows go to the driver's `executemany` as they are: a pass writes ~50 band
    rows per article, and SQLAlchemy's per-row parameter processing cost about as much CPU as
    SQLite's inserts. Elsewhere a Core `executemany` (batched by the dialect)."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', rows)
        return
    conn.execute(table.insert(), [dict(zip(columns, r, strict=True)) for r in rows])


def delete_dedup_entries(session: Session, *, article_ids: Sequence[int]) -> None:
    """Forget the index rows of these articles (their text changed, or they are removed)."""
    ids = list(article_ids)
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        session.execute(delete(DedupBand).where(col(DedupBand.article_id).in_(part)))
        session.execute(delete(DedupDoc).where(col(DedupDoc.article_id).in_(part)))


def _driver_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """The rows of `sql` run on the connection's DBAPI cursor (in its transaction), as the
    driver returns them: no result-row objects."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(sql, params)
        return list(cur.fetchall())
    finally:
        cur.close()


def band_hits(
    session: Session, *, monitor: str, probes: Sequence[tuple[int, int]], cap: int
) -> list[tuple[int, int, int]]:
    """(band, key, article_id) of stored articles sharing a probed (band, key), at most the
    newest `cap` articles per (band, key), newest first within a bucket.

    One `band = ? AND key IN (...)` statement per band (and chunk): a seek per probed key in
    the primary key on SQLite and PostgreSQL alike (a row-value IN is planned as a scan).
    On SQLite the statement goes to the driver's cursor as it is (SQLAlchemy's processing of
    thousands of IN parameters and result rows cost more CPU than SQLite's seeks).
    """
    by_band: dict[int, list[int]] = {}
    for band, key in sorted(set(probes)):
        by_band.setdefault(band, []).append(key)
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    out: list[tuple[int, int, int]] = []
    for band, keys in by_band.items():
        for i in range(0, len(keys), CHUNK):
            part = keys[i : i + CHUNK]
            rows: Iterable[Any]
            if sqlite:
                marks = ", ".join("?" * len(part))
                rows = _driver_rows(
                    conn,
                    'SELECT "key", article_id FROM dedup_band WHERE monitor = ? AND band = ? '
                    f'AND "key" IN ({marks}) ORDER BY "key", article_id DESC',
                    (monitor, band, *part),
                )
            else:
                rows = session.exec(
                    select(DedupBand.key, DedupBand.article_id)
                    .where(
                        DedupBand.monitor == monitor,
                        DedupBand.band == band,
                        col(DedupBand.key).in_(part),
                    )
                    .order_by(col(DedupBand.key), col(DedupBand.article_id).desc())
                )
            last: int | None = None
            taken = 0
            for key, aid in rows:
                if key != last:
                    last, taken = key, 0
                if taken < cap:
                    out.append((band, int(key), int(aid)))
                    taken += 1
    return out


def exact_hits(
    session: Session, *, monitor: str, hashes: Sequence[bytes]
) -> list[tuple[bytes, int]]:
    """(hash, article_id) of stored articles whose exact-text hash is one of `hashes`."""
    wanted = sorted(set(hashes))
    out: list[tuple[bytes, int]] = []
    for i in range(0, len(wanted), CHUNK):
        q = select(DedupDoc.exact, DedupDoc.article_id).where(
            DedupDoc.monitor == monitor, col(DedupDoc.exact).in_(wanted[i : i + CHUNK])
        )
        out += [(bytes(h), int(a)) for h, a in session.exec(q) if h is not None]
    return out


class StoredDoc(NamedTuple):
    """The `dedup_doc` row of a stored article, as read for a pass (no ORM object)."""

    article_id: int
    monitor: str
    n_words: int
    title_norm: str
    short_norm: str | None
    exact: bytes | None
    shingles: bytes


def dedup_docs(session: Session, *, article_ids: Sequence[int]) -> list[tuple[StoredDoc, str]]:
    """The stored features of these articles (those indexed) with each article's title,
    by article id."""
    ids = sorted(set(article_ids))
    out: list[tuple[StoredDoc, str]] = []
    t = DedupDoc.__table__.c  # type: ignore[attr-defined]
    cols = [t.article_id, t.monitor, t.n_words, t.title_norm, t.short_norm, t.exact, t.shingles]
    conn = session.connection()
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        rows: Iterable[Any]
        if conn.dialect.name == "sqlite":  # straight to the driver, as in `band_hits`
            rows = _driver_rows(
                conn,
                "SELECT d.article_id, d.monitor, d.n_words, d.title_norm, d.short_norm, "
                "d.exact, d.shingles, a.title FROM dedup_doc AS d JOIN article AS a "
                f"ON a.id = d.article_id WHERE d.article_id IN ({', '.join('?' * len(part))}) "
                "ORDER BY d.article_id",
                tuple(part),
            )
        else:
            rows = session.execute(
                sa_select(*cols, col(Article.title))
                .join(Article, col(Article.id) == t.article_id)
                .where(t.article_id.in_(part))
                .order_by(t.article_id)
            )
        out += [(StoredDoc(*row[:7]), row[7]) for row in rows]
    return out


def article_texts(session: Session, *, article_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """(title, text) of these articles by id."""
    ids = sorted(set(article_ids))
    out: dict[int, tuple[str, str]] = {}
    for i in range(0, len(ids), CHUNK):
        q = select(Article.id, Article.title, Article.text).where(
            col(Article.id).in_(ids[i : i + CHUNK])
        )
        out.update({int(aid or 0): (title, text) for aid, title, text in session.exec(q)})
    return out


def index_tail(session: Session, *, monitor: str, after: int, limit: int) -> list[tuple[int, bool]]:
    """(id, has index rows) of the monitor's next `limit` articles with ids above `after`, in
    id order: what a pass checks is only what was stored since the last check."""
    q = (
        select(Article.id, col(DedupDoc.article_id).is_not(None))
        .outerjoin(DedupDoc, col(DedupDoc.article_id) == col(Article.id))
        .where(Article.monitor == monitor, col(Article.id) > after)
        .order_by(col(Article.id))
        .limit(limit)
    )
    return [(int(aid or 0), bool(indexed)) for aid, indexed in session.exec(q)]


def indexed_through(session: Session, *, monitor: str) -> int:
    """The article id up to which the monitor's articles all have index rows (0: none)."""
    row = session.get(DedupProgress, monitor)
    return row.indexed_through if row is not None else 0


def set_indexed_through(session: Session, *, monitor: str, article_id: int) -> None:
    """Record that the monitor's articles up to `article_id` all have index rows."""
    row = session.get(DedupProgress, monitor)
    if row is None:
        try:
            with session.begin_nested():  # another worker may record it first
                session.add(DedupProgress(monitor=monitor, indexed_through=article_id))
            return
        except IntegrityError:
            row = session.get(DedupProgress, monitor)
            assert row is not None
    row.indexed_through = max(row.indexed_through, article_id)
    session.add(row)
