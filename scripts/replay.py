"""End-to-end replay evaluation: past news through the real flow, scored against labels.

    .venv/bin/python -m scripts.replay [--story wagner|nk-russia|all] [--warmup-days 3]
    .venv/bin/python -m scripts.replay --monitor FILE --entries LABELS.jsonl --events EVENTS.json \
        --window 2023-08-15..2023-09-15

`make eval` runs both dev stories. For each scored window it serves the rss2023 corpus on
loopback as live feeds and article pages for a simulated clock (`scripts/replay_server.py`),
starts a local Prefect server (or uses `--prefect-api`), and from a few warm-up days before the
window to its end runs the real `newsmon-monitor` flow every 12 simulated hours "as of" the clock
(`monitor_flow(as_of=...)`, what `newsmon run --as-of` does), on a fresh SQLite database, with
Slack alerts going to a recording webhook sink. Then it maps each Slack alert to the corpus entry
it announces (by its link) and scores alerts and stored developments against the labels
(`scripts/replay_score.py`). Prints a table; writes JSON to `data/eval/`.

The monitor file is used as written, except for what the replay must own: its feed URLs point at
the replay server's port, and its seeds, data folder and database are absolute paths in a fresh
work folder (a copy of the file with those fields changed is written there).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from scripts.replay_score import AlertRecord, Labels, StoredArticle, load_labels, score
from scripts.replay_server import Corpus, ReplayServer, WebhookSink, serve_in_thread
from scripts.shared_data import LABELS, REPO, RSS2023

CONFIG_PORT = "http://127.0.0.1:8790"  # the replay monitors' placeholder feed base
CORPUS_START = datetime(2023, 8, 1, tzinfo=UTC)
_LINK = re.compile(r"<(https?://[^|>]+)\|")


@dataclass(frozen=True)
class Story:
    """A labelled story: its monitor file, its labels and the windows scored."""

    name: str
    monitor: Path
    entries: Path
    events: Path
    windows: tuple[tuple[date, date], ...]


STORIES: dict[str, Story] = {
    "wagner": Story(
        "wagner",
        REPO / "config" / "wagner.yaml",
        LABELS / "wagner2023" / "entries.jsonl",
        LABELS / "wagner2023" / "events.json",
        ((date(2023, 8, 15), date(2023, 9, 15)),),
    ),
    "nk-russia": Story(
        "nk-russia",
        REPO / "config" / "nk-russia-replay.yaml",
        LABELS / "rss2023-dev.jsonl",
        LABELS / "events-dev.json",
        ((date(2023, 8, 1), date(2023, 8, 31)), (date(2023, 10, 1), date(2023, 10, 31))),
    ),
}


@dataclass
class ReplayResult:
    """One replayed window: timings, volumes and the score's figures."""

    story: str
    window: tuple[date, date]
    first_pass: datetime
    passes: int
    wall_seconds: float
    articles: int
    feed_requests: int
    not_modified: int
    slack_messages: int
    figures: dict[str, Any]
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (written to data/eval/)."""
        return {
            "story": self.story,
            "window": [self.window[0].isoformat(), self.window[1].isoformat()],
            "first_pass": self.first_pass.isoformat(),
            "passes": self.passes,
            "wall_seconds": round(self.wall_seconds, 1),
            "articles_stored": self.articles,
            "feed_requests": self.feed_requests,
            "feed_304": self.not_modified,
            "slack_messages": self.slack_messages,
            "figures": self.figures,
            **self.details,
        }


def replay_monitor_file(
    source: Path, work: Path, *, base_url: str, outlets: set[str] | None = None
) -> Path:
    """Write the copy of `source` the replay runs: feeds on `base_url`, fresh data and database.

    With `outlets`, only the feeds served from those outlets' corpus files are kept.
    """
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for feed in data.get("feeds", []):
        feed["url"] = str(feed["url"]).replace(CONFIG_PORT, base_url)
    if outlets is not None:
        served = {f"{base_url}/feeds/{slug}.xml" for slug in outlets}
        data["feeds"] = [f for f in data.get("feeds", []) if f["url"] in served]
    seeds = Path(data.get("seeds", "seeds"))
    data["seeds"] = str(seeds if seeds.is_absolute() else (source.parent / seeds).resolve())
    data["data_dir"] = str(work / "data")
    data["database_url"] = f"sqlite:///{work / 'data' / 'newsmon.db'}"
    target = work / source.name
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


def slack_alerts(
    payload: dict[str, Any], resolve: Callable[[str], str | None]
) -> list[AlertRecord]:
    """The new-development alerts of one Slack message (one per item of a digest)."""
    blocks = payload.get("blocks") or []
    texts = [_block_text(b) for b in blocks]
    meta = texts[1] if len(texts) > 1 else ""
    headline = texts[0] if texts else str(payload.get("text", ""))
    if "Digest" in meta:
        lines = [line for t in texts[2:] for line in t.splitlines() if line.startswith("•")]
        links = [m for line in lines if (m := _LINK.search(line))]
        return [AlertRecord(resolve(m.group(1)), m.group(1), headline) for m in links]
    if "New development" not in meta:
        return []
    for text in texts:
        if text.startswith("*Sources") and (m := _LINK.search(text)):
            return [AlertRecord(resolve(m.group(1)), m.group(1), headline)]
    return [AlertRecord(None, "", headline)]


def _block_text(block: dict[str, Any]) -> str:
    if isinstance(block.get("text"), dict):
        return str(block["text"].get("text", ""))
    return " ".join(str(e.get("text", "")) for e in block.get("elements") or [])


def stored_articles(db_url: str, monitor: str, corpus: Corpus) -> dict[str, StoredArticle]:
    """What the pipeline stored, per corpus entry (articles mapped back by their link)."""
    from sqlmodel import Session, select

    from storage.db import get_engine
    from storage.models import Article, Development

    with Session(get_engine(db_url)) as s:
        devs = {d.id: d for d in s.exec(select(Development).where(Development.monitor == monitor))}
        rows = s.exec(select(Article).where(Article.monitor == monitor)).all()
    out: dict[str, StoredArticle] = {}
    for a in rows:
        entry = corpus.entry_for_url(a.link) or corpus.entry_for_url(a.url)
        if entry is None:
            continue
        dev = devs.get(a.development_id) if a.development_id is not None else None
        out[entry.id] = StoredArticle(
            entry_id=entry.id,
            development_id=a.development_id,
            seed_ref=dev.seed_ref if dev is not None and dev.status == "known" else None,
            duplicate_of_seed=a.duplicate_ref if a.duplicate_kind == "seed" else None,
        )
    return out


@contextmanager
def prefect_api(api_url: str | None, home: Path) -> Iterator[str]:
    """Use the Prefect server at `api_url`, or start a local one in `home` for the block."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with ExitStack() as stack:
        if api_url is None:
            from tests.flows.prefect_server import PrefectServer

            api_url = stack.enter_context(PrefectServer(home, startup_timeout=400)).api_url
        stack.enter_context(temporary_settings({PREFECT_API_URL: api_url}))
        yield api_url


def replay_window(
    story: Story,
    window: tuple[date, date],
    *,
    corpus: Corpus,
    labels: Labels,
    work: Path,
    warmup_days: int = 3,
    step: timedelta = timedelta(hours=12),
    feed_window: timedelta = timedelta(hours=24),
    log: Callable[[str], None] = print,
) -> ReplayResult:
    """Replay one window through the flow (Prefect settings already pointing at a server)."""
    from flows.monitor_flow import monitor_flow
    from monitors.config import load_config
    from storage.db import dispose_engines

    start = datetime.combine(window[0], datetime.min.time(), UTC)
    first = max(CORPUS_START, start - timedelta(days=warmup_days))
    last = datetime.combine(window[1] + timedelta(days=1), datetime.min.time(), UTC)
    work.mkdir(parents=True, exist_ok=True)
    server = ReplayServer(corpus, first, window=feed_window)
    sink = WebhookSink(lambda: server.clock)
    serve_in_thread(server)
    serve_in_thread(sink)
    saved = os.environ.get("NEWSMON_SLACK_WEBHOOK_URL")
    os.environ["NEWSMON_SLACK_WEBHOOK_URL"] = sink.url
    try:
        path = replay_monitor_file(
            story.monitor, work, base_url=server.base_url, outlets=set(corpus.outlets)
        )
        cfg = load_config(path)
        if Path(cfg.resolved_database_url.removeprefix("sqlite:///")).exists():
            raise RuntimeError(f"{work}: a database is already there; use an empty folder")
        began, passes, clock = time.monotonic(), 0, first
        while clock <= last:
            server.clock = clock
            t0 = time.monotonic()
            summary = monitor_flow(monitor=str(path), force=False, as_of=clock)
            passes += 1
            log(
                f"  {story.name} {clock:%Y-%m-%d %H:%M} pass {passes}: "
                f"{summary.new_articles} new article(s), "
                f"{summary.relevant} relevant, {summary.alerts_sent} alert(s) "
                f"sent, {time.monotonic() - t0:.1f} s"
            )
            clock += step
        wall = time.monotonic() - began
        resolve: Callable[[str], str | None] = lambda url: (  # noqa: E731
            e.id if (e := corpus.entry_for_url(url)) else None
        )
        alerts = [a for p in sink.posts for a in slack_alerts(p.payload, resolve)]
        with (work / "slack.jsonl").open("w", encoding="utf-8") as fh:  # what the analyst got
            for p in sink.posts:
                fh.write(json.dumps({"at": p.received_at.isoformat(), "payload": p.payload}) + "\n")
        stored = stored_articles(cfg.resolved_database_url, cfg.name, corpus)
    finally:
        server.shutdown()
        sink.shutdown()
        server.server_close()
        sink.server_close()
        dispose_engines()
        if saved is None:
            os.environ.pop("NEWSMON_SLACK_WEBHOOK_URL", None)
        else:
            os.environ["NEWSMON_SLACK_WEBHOOK_URL"] = saved
    days = {i: corpus.by_id[i].date.date() for i in stored} | {
        a.entry_id: corpus.by_id[a.entry_id].date.date() for a in alerts if a.entry_id
    }
    sc = score(labels, alerts, stored, start=window[0], end=window[1], entry_days=days)
    details = {
        "per_development_alerts": sc.per_event,
        "missed_developments": sc.missed_events,
        "wrong_alerts": sc.wrong_alerts,
        "unmapped_alerts": sum(1 for a in alerts if a.entry_id is None),
        "requests_broken_off": server.broken,
    }
    return ReplayResult(
        story.name, window, first, passes, wall, len(stored), server.requests,
        server.not_modified, len(sink.posts), sc.figures(), details,
    )  # fmt: skip


COLUMNS = (
    ("alerts", "alerts"),
    ("development_recall", "dev recall"),
    ("alert_precision", "precision"),
    ("alerts_per_alerted_development", "alerts/dev"),
    ("alerts_on_seed_known_developments", "seed-known"),
    ("bcubed_precision", "B3 P"),
    ("bcubed_recall", "B3 R"),
    ("bcubed_f1", "B3 F1"),
    ("seed_event_coverage", "seed cov"),
)


def table(results: list[ReplayResult]) -> str:
    """The figures of every replayed window as a fixed-width table."""
    head = ["story", "window", *(label for _, label in COLUMNS), "passes", "wall s"]
    rows = [head]
    for r in results:
        cells = [r.story, f"{r.window[0]:%m-%d}..{r.window[1]:%m-%d}"]
        cells += ["-" if r.figures[k] is None else str(r.figures[k]) for k, _ in COLUMNS]
        rows.append([*cells, str(r.passes), f"{r.wall_seconds:.0f}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def _window(text: str) -> tuple[date, date]:
    try:
        a, b = text.split("..")
        return date.fromisoformat(a), date.fromisoformat(b)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--window: expected START..END dates, e.g. 2023-08-15..2023-09-15, got {text!r}"
        ) from None


def main(argv: list[str] | None = None) -> int:
    """Replay the chosen stories (or one monitor file with its labels) and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--story", choices=[*STORIES, "all"], default="all")
    ap.add_argument(
        "--monitor", type=Path, help="a monitor file (with --entries/--events/--window)"
    )
    ap.add_argument("--entries", type=Path, help="labels: one JSON line per corpus entry")
    ap.add_argument("--events", type=Path, help="labels: the events file")
    ap.add_argument("--window", type=_window, action="append", help="START..END, repeatable")
    ap.add_argument("--outlets", help="comma-separated corpus outlets to serve (default: all)")
    ap.add_argument("--warmup-days", type=int, default=3)
    ap.add_argument("--feed-window-hours", type=float, default=24.0)
    ap.add_argument("--step-hours", type=float, default=12.0)
    ap.add_argument("--prefect-api", help="use this Prefect server instead of starting one")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "eval")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on `kill`
    if args.monitor:
        if not (args.entries and args.events and args.window):
            ap.error("--monitor needs --entries, --events and --window")
        stories = [
            Story(args.monitor.stem, args.monitor, args.entries, args.events, tuple(args.window))
        ]
    else:
        stories = list(STORIES.values()) if args.story == "all" else [STORIES[args.story]]
        if args.window:
            stories = [
                Story(s.name, s.monitor, s.entries, s.events, tuple(args.window)) for s in stories
            ]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out / f"replay-{stamp}"
    print(f"loading the corpus from {RSS2023} ...", flush=True)
    corpus = Corpus(RSS2023, set(args.outlets.split(",")) if args.outlets else None)
    results: list[ReplayResult] = []
    with prefect_api(args.prefect_api, out / "prefect") as api:
        print(f"Prefect API: {api}", flush=True)
        for story in stories:
            from monitors.config import load_config

            watched = set(load_config(story.monitor).alerts.topics)
            labels = load_labels(story.entries, story.events, watched)
            for window in story.windows:
                tag = f"{story.name}-{window[0]:%m%d}-{window[1]:%m%d}"
                print(f"replaying {tag} ...", flush=True)
                result = replay_window(
                    story, window, corpus=corpus, labels=labels, work=out / tag,
                    warmup_days=args.warmup_days, step=timedelta(hours=args.step_hours),
                    feed_window=timedelta(hours=args.feed_window_hours),
                    log=lambda line: print(line, flush=True),
                )  # fmt: skip
                results.append(result)
                (out / f"{tag}.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    summary = {"when": stamp, "results": [r.to_json() for r in results]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print()
    print(table(results))
    print(f"\nJSON: {out}/summary.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
