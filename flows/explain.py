"""`newsmon explain`: what newsmon would decide about one page, and why."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlmodel import Session

from monitors.clock import utcnow
from monitors.config import MonitorConfig
from monitors.errors import NewsmonError
from monitors.extract import extract_one
from monitors.httpclient import Fetcher
from monitors.tagging import headline_topics
from pipeline import core as pipeline
from storage.db import get_engine


def _read_target(cfg: MonitorConfig, target: str) -> tuple[bytes, str]:
    if re.match(r"^https?://", target):
        with Fetcher(cfg.fetch) as fetcher:
            resp = fetcher.get(target, kind="page")
        return resp.content, resp.final_url
    path = Path(target)
    if not path.is_file():
        raise NewsmonError(f"explain: {target!r} is neither an http(s) URL nor a readable file")
    return path.read_bytes(), path.resolve().as_uri()


def _match_dict(m: Any) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "kind": m.kind,
        "ref": m.ref,
        "title": m.title,
        "level": m.level,
        "score": round(m.score, 1),
    }


def explain(cfg: MonitorConfig, target: str) -> dict[str, Any]:
    """Extract the page, compare it with seeds and stored articles, tag it, judge the alert."""
    raw, url = _read_target(cfg, target)
    ext = extract_one(raw, url)
    published = (ext.published if ext is not None else None) or utcnow()
    if ext is None or not ext.text.strip():
        text = raw.decode("utf-8", errors="replace")
        title = text.strip().splitlines()[0][:200] if text.strip() else ""
        source = "raw"
    else:
        text, title, source = ext.text, ext.title, ext.source
    engine = get_engine(cfg.resolved_database_url)
    pipeline.prepare(cfg, engine, now=utcnow())  # seeds and their developments stored
    with Session(engine) as s:
        index = pipeline.build_dedup_index(cfg, s)
    verdict = index.find(text=text, title=title)
    tagging = pipeline.make_tagger(cfg).tag(title=title, text=text)
    watched = sorted(set(tagging.topic_names()) & set(cfg.alerts.topics))
    if verdict is not None:
        why = (
            f"no: duplicate of {verdict.kind} {verdict.ref} ({verdict.level}, {verdict.score:.0f})"
        )
    elif not tagging.relevant:
        missing = [a for a in cfg.alerts.require_actors if a not in tagging.actors]
        why = f"no: out of scope (actors missing: {', '.join(missing)})"
    elif not watched:
        why = f"no: no watched topic ({', '.join(cfg.alerts.topics)}) found"
    else:
        with Session(engine) as s:
            devs = pipeline.build_development_index(cfg, s, now=utcnow())
        heads = headline_topics(tagging, title)
        assignment = devs.assign(
            title=title,
            text=text,
            topics=frozenset(tagging.topic_names()),
            published=published,
            watched=frozenset(cfg.alerts.topics),
            headline_topics=heads,
        )
        if assignment.key is None:
            why = f"yes: a new development on watched topic(s) {', '.join(watched)}"
        else:
            ref = devs.get(assignment.key)
            known = f"seed {ref.seed_ref}" if ref.seed_ref else f"development {ref.key}"
            why = f"no: {assignment.reason} (already covered by {known})"
    return {
        "target": target,
        "url": url,
        "title": title,
        "published": published.isoformat(),
        "text_source": source,
        "text_chars": len(text),
        "duplicate": _match_dict(verdict),
        "nearest_seed": _match_dict(index.nearest(text=text, title=title, kind="seed")),
        "nearest_article": _match_dict(index.nearest(text=text, title=title, kind="article")),
        "relevant": tagging.relevant,
        "actors": tagging.actors,
        "topics": [
            {"topic": h.topic, "terms": list(h.terms), "evidence": list(h.evidence)}
            for h in tagging.topics
        ],
        "would_alert": why.startswith("yes"),
        "why": why,
    }
