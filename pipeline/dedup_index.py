"""The pass's dedup index: seeds in memory, stored articles read from the persisted index.

A pass computes the features of its new texts once, asks the database for the stored articles
sharing one of their band keys or exact hashes (`storage.dedup_store`), and puts only those
into a `DedupIndex` beside the seeds. Each article it stores writes its own index rows in the
same transaction (`persist`). Cost follows what is new, not what is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.config import MonitorConfig
from monitors.dedup import DedupIndex
from monitors.dedup_features import TextFeatures
from monitors.dedup_records import DedupRecord, band_probes, record_of
from monitors.dedup_stored import PassDedupIndex
from pipeline.seed_cache import seed_features
from storage import dedup_store
from storage import repository as repo
from storage.db import session_scope
from storage.models import DedupDoc

#: Articles indexed per transaction when indexing those stored before the index existed.
BACKFILL_BATCH = 1000


@dataclass
class PassIndex:
    """A pass's dedup index and the features of its texts, in the order given."""

    index: PassDedupIndex
    features: list[TextFeatures]


def seed_index(cfg: MonitorConfig, engine: Engine, session: Session) -> PassDedupIndex:
    """A pass's dedup index holding the monitor's seeds (few; rebuilt each pass)."""

    def texts(keys: list[str]) -> dict[str, str]:
        with Session(engine) as s:
            rows = dedup_store.article_texts(s, article_ids=[int(k) for k in keys])
        return {str(aid): text for aid, (_, text) in rows.items()}

    index = PassDedupIndex(cfg.dedup, texts=texts)
    for seed in repo.list_seeds(session, monitor=cfg.name):
        feats = seed_features(index, title=seed.title, text=seed.text)
        index.add(key=seed.seed_id, kind="seed", text=seed.text, title=seed.title, features=feats)
    return index


def open_pass_index(
    cfg: MonitorConfig, engine: Engine, session: Session, texts: Sequence[tuple[str, str]]
) -> PassIndex:
    """The seeds, plus every stored article sharing a band key or exact hash with one of
    `texts` ((title, text) pairs), and the features of `texts`."""
    index = seed_index(cfg, engine, session)
    feats = [index.features(text=text, title=title) for title, text in texts]
    probes = [p for f in feats for p in band_probes(f.keys, f.title_keys, cfg.dedup.lsh_bands)]
    cap = max(cfg.dedup.lsh_bucket_cap, cfg.dedup.title_bucket_cap)
    hits = dedup_store.band_hits(session, monitor=cfg.name, probes=probes, cap=cap)
    exact = [f.exact for f in feats if f.exact is not None]
    by_article: dict[int, list[tuple[int, int]]] = {}
    for band, key, aid in hits:
        by_article.setdefault(aid, []).append((band, key))
    for _, aid in dedup_store.exact_hits(session, monitor=cfg.name, hashes=exact):
        by_article.setdefault(aid, [])
    # ascending article ids: the index's "newest" order is insertion order
    for doc, title in dedup_store.dedup_docs(session, article_ids=list(by_article)):
        index.add_stored(
            key=str(doc.article_id),
            title=title,
            record=DedupRecord(
                n_words=doc.n_words,
                title_norm=doc.title_norm,
                short_norm=doc.short_norm,
                exact=doc.exact,
                shingles=doc.shingles,
                bands=[],
            ),
            bands=by_article[doc.article_id],
        )

    return PassIndex(index=index, features=feats)


def write_records(
    session: Session, *, cfg: MonitorConfig, records: Sequence[tuple[int, DedupRecord]]
) -> None:
    """Write the index rows of (article_id, record) pairs (in the caller's transaction)."""
    dedup_store.add_dedup_entries(
        session,
        monitor=cfg.name,
        docs=[
            DedupDoc(
                article_id=aid,
                monitor=cfg.name,
                n_words=r.n_words,
                title_norm=r.title_norm,
                short_norm=r.short_norm,
                exact=r.exact,
                shingles=r.shingles,
            )
            for aid, r in records
        ],
        bands=[(band, key, aid) for aid, r in records for band, key in r.bands],
    )


def backfill(cfg: MonitorConfig, engine: Engine) -> int:
    """Index the monitor's articles stored without index rows; how many it indexed.

    Only articles stored since the last check are looked at (`dedup_progress` remembers how
    far every article is known to be indexed), so after the one catch-up that follows the
    upgrade to migration 0004 this costs what was stored since, not what is stored."""
    index = DedupIndex(cfg.dedup)
    done = 0
    while True:
        with session_scope(engine) as s:
            after = dedup_store.indexed_through(s, monitor=cfg.name)
            tail = dedup_store.index_tail(s, monitor=cfg.name, after=after, limit=BACKFILL_BATCH)
            if not tail:
                return done
            todo = [aid for aid, indexed in tail if not indexed]
            texts = dedup_store.article_texts(s, article_ids=todo)
            records = [
                (aid, record_of(index.features(text=text, title=title), index.settings))
                for aid, (title, text) in sorted(texts.items())
            ]
            write_records(s, cfg=cfg, records=records)
            dedup_store.set_indexed_through(s, monitor=cfg.name, article_id=tail[-1][0])
            done += len(records)
