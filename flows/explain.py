"""`newsmon explain`: what newsmon would decide about one page, and why.

A dry run of the pass's own processing: in one transaction that is rolled back, the monitor's
feeds and seeds are stored (`store_monitor`), the page goes through `process_article` as any
entry of a pass would, and the outcome is reported. Nothing is written to the database.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from flows.cli_output import iso
from monitors.clock import as_utc, utcnow
from monitors.config import MonitorConfig
from monitors.errors import NewsmonError
from monitors.extract import extract_one
from monitors.httpclient import Fetcher
from monitors.records import DedupMatch, ExtractedText, FeedItem
from monitors.text import content_hash
from pipeline.extract import Candidate
from pipeline.harvest import known_articles
from pipeline.prepare import store_monitor, tagged_seeds
from pipeline.process import ArticleOutcome, ProcessContext, load_context, process_article
from storage.db import get_engine
from storage.models import Development

#: The feed name an explained page is processed under (no feed of the monitor lists it).
EXPLAIN_FEED = "(explain)"


def _read_target(cfg: MonitorConfig, target: str) -> tuple[bytes, str]:
    if re.match(r"^https?://", target):
        with Fetcher(cfg.fetch) as fetcher:
            resp = fetcher.get(target, kind="page")
        return resp.content, resp.final_url
    path = Path(target)
    if not path.is_file():
        raise NewsmonError(f"explain: {target!r} is neither an http(s) URL nor a readable file")
    return path.read_bytes(), path.resolve().as_uri()


_PUBLISHED_META = re.compile(
    rb"<meta\s+[^>]*(?:property|name|itemprop)=[\"'](?:article:published_time|og:published_time|"
    rb"datePublished|pubdate)[\"'][^>]*>",
    re.IGNORECASE,
)
_CONTENT = re.compile(rb"content=[\"']([^\"']+)[\"']", re.IGNORECASE)


def page_published(raw: bytes) -> datetime | None:
    """The page's own publication time with its time of day (`article:published_time` etc.)."""
    for tag in _PUBLISHED_META.findall(raw[:200_000]):
        m = _CONTENT.search(tag)
        if not m:
            continue
        try:
            value = datetime.fromisoformat(m.group(1).decode("ascii", "replace").strip())
        except ValueError:
            continue
        return as_utc(value)
    return None


def _match_dict(m: DedupMatch | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "kind": m.kind,
        "ref": m.ref,
        "title": m.title,
        "level": m.level,
        "score": round(m.score, 1),
    }


def _page_text(raw: bytes, url: str) -> tuple[ExtractedText, str]:
    """The page's extracted text and its source, or its raw text when extraction finds none."""
    ext = extract_one(raw, url)
    if ext is not None and ext.text.strip():
        return ext, ext.source
    text = raw.decode("utf-8", errors="replace")
    title = text.strip().splitlines()[0][:200] if text.strip() else ""
    return ExtractedText(url=url, title=title, text=text, source="summary"), "raw"


def _why(cfg: MonitorConfig, s: Session, out: ArticleOutcome, actors: set[str]) -> str:
    """The outcome of the dry run in words (what the pass decided, not a second rule)."""
    if out.alerts:
        watched = sorted(set(out.topics) & set(cfg.alerts.topics))
        return f"yes: a new development on watched topic(s) {', '.join(watched)}"
    if out.duplicate is not None:
        return f"no: {out.note}"
    if not out.relevant:
        missing = [a for a in cfg.alerts.require_actors if a not in actors]
        return f"no: out of scope (actors missing: {', '.join(missing)})"
    if not set(out.topics) & set(cfg.alerts.topics):
        return f"no: no watched topic ({', '.join(cfg.alerts.topics)}) found"
    if out.new_development:
        return "no: a new development, but no alert channel takes its topics"
    dev = s.get(Development, out.development_id) if out.development_id else None
    if dev is None:
        return f"no: {out.note}"
    known = f"seed {dev.seed_ref}" if dev.seed_ref else f"development {dev.id}"
    return f"no: {out.note} (already covered by {known})"


def explain(cfg: MonitorConfig, target: str) -> dict[str, Any]:
    """Extract the page and run it through the pass's processing as a dry run; say why."""
    raw, url = _read_target(cfg, target)
    ext, source = _page_text(raw, url)
    now = utcnow()
    published = page_published(raw) or ext.published or now
    item = FeedItem(
        feed=EXPLAIN_FEED,
        guid=None,
        link=url,
        url=url,
        title=ext.title,
        summary="",
        published=published,
        content_hash=content_hash(ext.title, ""),
    )
    seeds = tagged_seeds(cfg)
    engine = get_engine(cfg.resolved_database_url)
    with Session(engine, expire_on_commit=False) as s:
        try:
            store_monitor(s, cfg, seeds)  # seeds and their developments, as `prepare` stores
            s.flush()
            cand = Candidate(item=item, text=ext)
            ctx: ProcessContext = load_context(cfg, engine, s, [cand], now=now)
            nearest_seed = ctx.dedup.nearest(text=ext.text, title=ext.title, kind="seed")
            nearest_article = ctx.dedup.nearest(text=ext.text, title=ext.title, kind="article")
            tagging = ctx.tagger.tag(title=ext.title, text=ext.text)
            known = known_articles(s, monitor=cfg.name, items=[item])
            out = process_article(
                s, cfg, ctx, cand, ctx.features[0], known, run_id=None, now=now, run_url=None
            )
            why = _why(cfg, s, out, set(tagging.actors))
        finally:
            s.rollback()  # a dry run: nothing of it is kept
    return {
        "target": target,
        "url": url,
        "title": ext.title,
        "published": iso(published),
        "text_source": source,
        "text_chars": len(ext.text),
        "duplicate": _match_dict(out.duplicate),
        "nearest_seed": _match_dict(nearest_seed),
        "nearest_article": _match_dict(nearest_article),
        "relevant": tagging.relevant,
        "actors": tagging.actors,
        "topics": [
            {"topic": h.topic, "terms": list(h.terms), "evidence": list(h.evidence)}
            for h in tagging.topics
        ],
        "would_alert": out.alerts > 0,
        "why": why,
    }
