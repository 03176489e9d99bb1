"""Orchestration overhead: one 2,000-article pass as the Prefect flow and as plain functions.

    .venv/bin/python -m scripts.bench_orchestration [--articles 2000] [--feeds 4]

A local site (real HTTP server on a free port) replays `--articles` entries of rss2023
(`/work/shared/corpora/rss2023`, the newest entries of each of `--feeds` outlets) as RSS feeds,
with one generated article page per entry (title, standfirst paragraphs, page furniture).
The same monitor is then run twice, each time on a fresh SQLite database:

* **plain**: `pipeline.run.run_pass` with its default stage runner (each stage a plain call,
  feeds polled on its thread pool), the run row written before and after;
* **flow**: `flows.monitor_flow.monitor_flow` against a real local Prefect server: the same
  `run_pass` with one Prefect task per stage (tasks, logs, states and the two artifacts go
  through its API).

Prints both wall times and the overhead ratio (flow / plain - 1).
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import yaml

from monitors.clock import utcnow
from pipeline.summary import PassSummary
from scripts.shared_data import RSS2023
from tests.flows.prefect_server import REPO, PrefectServer
from tests.support.httpserver import LocalHTTPServer, Response

CORPUS = RSS2023
OUTLETS = ["guardian", "bbc-news", "wsj-world", "aljazeera", "nytimes-world", "nbcnews-world"]


def load_entries(outlet: str, n: int) -> list[dict[str, Any]]:
    """The `n` newest entries of one outlet of rss2023."""
    with gzip.open(CORPUS / f"{outlet}.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows[-n:]


def article_page(entry: dict[str, Any], outlet: str) -> bytes:
    """A plausible article page for an entry: furniture around the standfirst paragraphs."""
    title = html.escape(entry["title"])
    body = entry["description"] or f"<p>{title}</p>"
    if "<p>" not in body:
        body = f"<p>{body}</p>"
    paras = "".join(
        f"<p>{html.escape(entry['title'])} — report filed {entry['date']} ({outlet}, part {i}).</p>"
        for i in range(1, 4)
    )
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:title" content="{title}"></head><body>'
        f'<header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>'
        f"<main><article><h1>{title}</h1><p class='byline'>By Staff, {outlet}</p>"
        f"{body}{paras}</article></main><footer>© {outlet}. All rights reserved.</footer>"
        f"</body></html>"
    )
    return page.encode("utf-8")


def build_site(site: LocalHTTPServer, total: int, feeds: int) -> dict[str, str]:
    """Route `feeds` RSS feeds with `total` entries in all and their pages; name -> feed URL."""
    urls = {}
    per = total // feeds
    for outlet in OUTLETS[:feeds]:
        entries = load_entries(outlet, per)
        items = []
        for e in entries:
            path = f"/{outlet}/{e['id'].split(':')[1]}.html"
            site.route(path, Response(200, article_page(e, outlet)))
            pub = format_datetime(datetime.fromisoformat(e["date"].replace("Z", "+00:00")))
            items.append(
                f"<item><title>{html.escape(e['title'])}</title><link>{site.url(path)}</link>"
                f'<guid isPermaLink="false">{e["id"]}</guid><pubDate>{pub}</pubDate>'
                f"<description>{html.escape(e['description'] or '')}</description></item>"
            )
        rss = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{outlet}</title><link>{site.base_url}/</link><description>replay"
            f"</description>{''.join(items)}</channel></rss>"
        ).encode()
        site.route(f"/feeds/{outlet}.xml", Response(200, rss, content_type="application/rss+xml"))
        urls[outlet] = site.url(f"/feeds/{outlet}.xml")
    return urls


def write_monitor(folder: Path, feeds: dict[str, str], db: Path) -> Path:
    """A monitor file on `feeds` storing into SQLite file `db`."""
    path = folder / "bench.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "bench",
                "seeds": str(REPO / "seeds"),
                "database_url": f"sqlite:///{db}",
                "data_dir": str(folder / "data"),
                "feeds": [{"name": n, "url": u} for n, u in feeds.items()],
                "channels": {"outbox": True},
                "fetch": {"allow_networks": ["127.0.0.1/32"]},
            }
        ),
        encoding="utf-8",
    )
    return path


def run_plain(monitor: Path) -> PassSummary:
    """One pass with the plain stage runner; returns the summary."""
    from monitors.config import load_config
    from pipeline.run import run_pass
    from storage.db import get_engine

    cfg = load_config(str(monitor))
    engine = get_engine(cfg.resolved_database_url)
    return run_pass(cfg, engine, now=utcnow(), force=True, flow_run_id="plain")


def run_flow(monitor: Path, server: PrefectServer) -> PassSummary:
    """One pass as the Prefect flow against `server`; returns the summary."""
    from flows.monitor_flow import monitor_flow
    from tests.flows.prefect_server import client_settings

    with client_settings(server):
        return monitor_flow(monitor=str(monitor), force=True)


def main(argv: list[str] | None = None) -> int:
    """Build the replay site, run both variants once, print times and the overhead ratio."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--articles", type=int, default=2000)
    p.add_argument("--feeds", type=int, default=4)
    p.add_argument("--quick", action="store_true", help="200 articles (a smoke run)")
    args = p.parse_args(argv)
    if args.quick:
        args.articles = min(args.articles, 200)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from storage.db import dispose_engines

    tmp = Path(tempfile.mkdtemp(prefix="newsmon-bench-orch-"))
    print(f"machine: {platform.node()} {os.cpu_count()} cpu(s), Python {platform.python_version()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; folder {tmp}")
    with LocalHTTPServer() as site, PrefectServer(tmp / "prefect") as server:
        feeds = build_site(site, args.articles, args.feeds)
        times: dict[str, float] = {}
        news: dict[str, int] = {}
        for variant in ("plain", "flow"):
            folder = tmp / variant
            folder.mkdir()
            monitor = write_monitor(folder, feeds, folder / "newsmon.db")
            dispose_engines()
            t0 = time.perf_counter()
            summary = run_plain(monitor) if variant == "plain" else run_flow(monitor, server)
            times[variant] = time.perf_counter() - t0
            news[variant] = summary.new_articles
            print(
                f"{variant:>5}: {times[variant]:7.1f} s  new articles {summary.new_articles}, "
                f"in scope {summary.relevant}, new developments {summary.new_developments}"
            )
    ratio = times["flow"] / times["plain"] - 1
    print(f"overhead of the Prefect flow: {ratio:+.1%} (target <= +10%)")
    if news["plain"] != news["flow"]:
        print(f"WARNING: the variants stored different numbers of articles: {news}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
