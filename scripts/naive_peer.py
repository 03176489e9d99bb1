"""The naive peer: what a cron script with feedparser, trafilatura and rapidfuzz does.

    .venv/bin/python -m scripts.naive_peer DB_PATH FEED_URL ...

Per run: parse each feed, download and extract every page not stored yet, compare its text
with every stored text by `fuzz.ratio` (brute force), store it. No conditional requests, no
index, no topics: the baseline `scripts/bench_peer.py` measures newsmon against.
"""

from __future__ import annotations

import sqlite3
import sys
import urllib.request

import feedparser
import trafilatura
from rapidfuzz import fuzz, process

#: `fuzz.ratio` at or above this is a duplicate (newsmon's near-duplicate threshold).
DUPLICATE_SCORE = 85.0


def fetch(url: str) -> bytes:
    """The body of `url` (20 s timeout)."""
    with urllib.request.urlopen(url, timeout=20) as resp:
        return bytes(resp.read())


def run(db_path: str, feed_urls: list[str]) -> dict[str, int]:
    """One cron run over `feed_urls`; returns counts (new, duplicates, skipped as stored)."""
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE IF NOT EXISTS article (url TEXT PRIMARY KEY, title TEXT, text TEXT)")
    stored = [t for (t,) in db.execute("SELECT text FROM article")]
    counts = {"new": 0, "duplicates": 0, "known": 0}
    for feed_url in feed_urls:
        for entry in feedparser.parse(fetch(feed_url)).entries:
            url = entry.get("link", "")
            if db.execute("SELECT 1 FROM article WHERE url = ?", (url,)).fetchone():
                counts["known"] += 1
                continue
            try:
                text = trafilatura.extract(fetch(url)) or entry.get("summary", "")
            except OSError:
                text = entry.get("summary", "")
            best = process.extractOne(text, stored, scorer=fuzz.ratio, score_cutoff=DUPLICATE_SCORE)
            counts["duplicates" if best else "new"] += 1
            db.execute("INSERT INTO article VALUES (?, ?, ?)", (url, entry.get("title", ""), text))
            db.commit()
            stored.append(text)
    db.close()
    return counts


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    print(run(sys.argv[1], sys.argv[2:]))
