"""Fast in-process replay of grouping and alerting, scored like the end-to-end replay.

    .venv/bin/python -m scripts.eval_grouping [--story wagner|nk-russia] [--window A..B]

Every corpus entry of the window (and the warm-up days before it) goes, in time order, through
what a pass does after extraction: the monitor's tagger, the duplicate index (seeds and earlier
entries) and development assignment (`pipeline.assign.Grouper`, the code the pipeline runs),
with the entry's title and RSS description as its text (what the replay's pages hold). Alerts
and developments are scored by `scripts/replay_score.py`. No HTTP, no extraction, no database:
seconds instead of hours, for iterating on grouping; the end-to-end replay
(`scripts/replay.py`) is the figure to quote.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial

from monitors.config import load_config
from monitors.dedup import DedupIndex
from monitors.dev_features import scope_of
from monitors.developments import DevelopmentIndex
from monitors.seeds import load_seeds
from monitors.tagging import headline_topics
from pipeline.prepare import make_tagger
from scripts.replay import STORIES, Story, _window
from scripts.replay_score import AlertRecord, Score, StoredArticle, load_labels, score
from scripts.replay_server import Corpus
from scripts.shared_data import RSS2023

_TAG = re.compile(r"<[^>]+>")


def _plain(description: str) -> str:
    return html.unescape(_TAG.sub(" ", description)).strip()


@dataclass
class _Dev:
    key: str
    status: str  # new | known
    seed_ref: str | None


def replay_story(
    story: Story,
    corpus: Corpus,
    start: date,
    end: date,
    *,
    warmup_days: int,
    verbose: bool,
    trace: frozenset[str] = frozenset(),
) -> Score:
    """Replay one window of a story in process and score it."""
    cfg = load_config(story.monitor)
    watched = frozenset(cfg.alerts.topics)
    labels = load_labels(story.entries, story.events, set(watched))
    tagger = make_tagger(cfg)
    dedup = DedupIndex()
    devs = DevelopmentIndex(scope=scope_of(cfg.actors))
    dev_of: dict[str, _Dev] = {}
    seed_dev: dict[str, str] = {}
    t0 = datetime.combine(start - timedelta(days=warmup_days), datetime.min.time(), UTC)
    t1 = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    for seed in load_seeds(cfg.seeds_dir):
        dedup.add(key=seed.seed_id, kind="seed", text=seed.text, title=seed.title)
        tags = tagger.tag(title=seed.title, text=seed.text)
        key = f"seed:{seed.seed_id}"
        ev = seed.event_date
        devs.add(
            key=key,
            title=seed.title,
            text=seed.text,
            topics=frozenset(tags.topic_names()),
            published=t0,
            status="known",
            seed_ref=seed.seed_id,
            headline_topics=headline_topics(tags, seed.title),
            event_date=datetime.fromisoformat(ev).replace(tzinfo=UTC) if ev else None,
        )
        dev_of[key] = _Dev(key, "known", seed.seed_id)
        seed_dev[seed.seed_id] = key
    entries = sorted(
        (e for o in corpus.outlets.values() for e in o.entries if t0 <= e.date < t1),
        key=lambda e: (e.date, e.id),
    )
    stored: dict[str, StoredArticle] = {}
    article_dev: dict[str, str | None] = {}
    alerts: list[AlertRecord] = []
    for e in entries:
        text = _plain(e.description) or e.title

        feats = dedup.features(text=text, title=e.title)
        match = dedup.find(features=feats)
        tagging = tagger.tag(title=e.title, text=text)
        topics = frozenset(tagging.topic_names())
        heads = headline_topics(tagging, e.title)
        touch = partial(devs.touch, title=e.title, text=text, topics=topics, published=e.date,
                        headline_topics=heads, ref=e.id, outlet=e.outlet)  # fmt: skip
        dev_key: str | None = None
        new = False
        why = ""
        if match is not None and match.kind == "seed":
            dev_key, why = seed_dev.get(match.ref), f"copy of seed {match.ref}"
        elif match is not None:
            dev_key, why = article_dev.get(match.ref), f"copy of {match.ref}"
            if dev_key is not None:
                touch(dev_key)
        elif tagging.relevant and topics:
            a = devs.assign(
                title=e.title,
                text=text,
                topics=topics,
                published=e.date,
                watched=watched,
                headline_topics=heads,
                outlet=e.outlet,
            )
            why = a.reason
            if a.key is not None:
                dev_key = a.key
                touch(dev_key)
            else:
                dev_key, new = f"dev:{e.id}", True
                first = e
                if a.corroborated_by and a.related is not None:
                    first = min((corpus.by_id[i] for i in a.corroborated_by), key=lambda x: x.date)
                    dev_key = f"split:{e.id}"
                    devs.split_off(
                        dev_key,
                        parent=a.related,
                        refs=a.corroborated_by,
                        title=first.title,
                        topics=topics,
                        published=first.date,
                    )
                    touch(dev_key)
                else:
                    devs.add(
                        key=dev_key,
                        title=e.title,
                        text=text,
                        topics=topics,
                        published=e.date,
                        headline_topics=heads,
                        ref=e.id,
                        outlet=e.outlet,
                    )
                dev_of[dev_key] = _Dev(dev_key, "new", None)
            for i in a.corroborated_by:  # earlier reports of the same fact move with it
                article_dev[i] = dev_key
                old = stored[i]
                stored[i] = StoredArticle(i, hash(dev_key), None, old.duplicate_of_seed)
        dedup.add(key=e.id, kind="article", features=feats)
        article_dev[e.id] = dev_key
        d = dev_of.get(dev_key) if dev_key else None
        stored[e.id] = StoredArticle(
            entry_id=e.id,
            development_id=hash(dev_key) if dev_key else None,
            seed_ref=d.seed_ref if d and d.status == "known" else None,
            duplicate_of_seed=match.ref if match is not None and match.kind == "seed" else None,
        )
        lab = labels.entries.get(e.id)
        if trace and lab is not None and lab.event in trace:
            print(
                f"  TRACE {e.date:%m-%d %H:%M} {e.id} {lab.event} -> {dev_key} {e.title[:70]!r}\n"
                f"        {why}"
            )
        if new and tagging.relevant and topics & watched:
            alerts.append(AlertRecord(first.id, first.link, first.title))
            if verbose:
                lab = labels.entries.get(e.id)
                print(
                    f"ALERT {e.date:%m-%d %H:%M} {e.id} event={lab.event if lab else '-'} "
                    f"{e.title[:80]!r}\n      {why}"
                )
    days = {e.id: e.date.date() for e in entries}
    return score(labels, alerts, stored, start=start, end=end, entry_days=days)


def main(argv: list[str] | None = None) -> int:
    """Replay the dev stories in process and print the replay's figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--story", choices=[*STORIES, "all"], default="all")
    ap.add_argument("--window", type=_window, action="append", help="YYYY-MM-DD..YYYY-MM-DD")
    ap.add_argument("--warmup-days", type=int, default=3)
    ap.add_argument("--verbose", action="store_true", help="print every alert and why")
    ap.add_argument("--trace", action="append", default=[], help="print where EVENT's reports go")
    args = ap.parse_args(argv)
    corpus = Corpus(RSS2023)
    stories = list(STORIES.values()) if args.story == "all" else [STORIES[args.story]]
    for story in stories:
        for start, end in args.window or story.windows:
            t = time.perf_counter()
            sc = replay_story(
                story,
                corpus,
                start,
                end,
                warmup_days=args.warmup_days,
                verbose=args.verbose,
                trace=frozenset(args.trace),
            )
            f = sc.figures()
            print(
                f"{story.name:10} {start}..{end}  alerts {f['alerts']:3}  "
                f"recall {f['development_recall']:.2f} ({sc.alerted_expected}/{sc.expected_events})"
                f"  precision {f['alert_precision']:.2f}  per-dev "
                f"{f['alerts_per_alerted_development']:.2f}  seed-known "
                f"{f['alerts_on_seed_known_developments']}  B3 P {f['bcubed_precision']:.2f} "
                f"R {f['bcubed_recall']:.2f} F1 {f['bcubed_f1']:.2f}  seed cov "
                f"{f['seed_event_coverage']}  ({time.perf_counter() - t:.0f} s)",
                flush=True,
            )
            if args.verbose:
                for w in sc.wrong_alerts:
                    print(f"  WRONG {w['why']:16} {w['event']} {w['headline'][:80]!r}")
                print(f"  missed: {', '.join(sc.missed_events) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
