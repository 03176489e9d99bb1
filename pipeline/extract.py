"""Stage 3 of a pass: full text of every harvested page, in one bounded worker pool."""

from __future__ import annotations

from dataclasses import dataclass

from monitors.extract import ExtractJob, extract_articles
from monitors.records import ExtractedText, FeedItem
from pipeline.harvest import Harvest


@dataclass
class Candidate:
    """A feed entry with its extracted text, ready for processing."""

    item: FeedItem
    text: ExtractedText
    changed: bool = False


def extract_batch(harvests: list[Harvest], *, timeout_seconds: float = 20.0) -> list[Candidate]:
    """Extract the full text of every harvested page in one bounded worker pool."""
    entries = [e for h in harvests for e in h.items]
    if not entries:
        return []
    # an entry found through several feeds is extracted once
    first: dict[str, int] = {}
    jobs: list[ExtractJob] = []
    for e in entries:
        if e.item.url not in first:
            first[e.item.url] = len(jobs)
            jobs.append(e.job)
        elif e.job.html is not None and jobs[first[e.item.url]].html is None:
            jobs[first[e.item.url]] = e.job  # the feed that fetched the page wins
    texts = extract_articles(jobs, timeout_seconds=timeout_seconds)
    return [
        Candidate(item=e.item, text=texts[first[e.item.url]], changed=e.changed) for e in entries
    ]
