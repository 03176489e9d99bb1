"""Evaluate topic tagging, the relevance gate and development grouping on the labelled dev set.

    .venv/bin/python -m scripts.eval_topics [--verbose]

Data (read-only): /work/shared/labels/{rss2023-dev.jsonl,events-dev.json} joined on id with
/work/shared/corpora/rss2023/*.jsonl.gz (title + description, HTML stripped: the labels were
made from those), and the seed articles in /work/shared/seeds (or ./seeds).
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

from monitors.developments import DevelopmentIndex
from monitors.seeds import load_seeds as load_seed_docs
from monitors.tagging import Tagger, headline_topics
from monitors.taxonomy import default_taxonomy
from monitors.text import strip_html
from scripts.shared_data import REPO, SHARED

LABELS = SHARED / "labels" / "rss2023-dev.jsonl"
EVENTS = SHARED / "labels" / "events-dev.json"
CORPUS = SHARED / "corpora" / "rss2023"
SEEDS = REPO / "seeds"  # the bundled seeds with their manifest (titles, news dates)
TOPICS = ("flights", "sanctions", "summits", "arms", "visits", "exchanges")
WATCHED = frozenset({"flights", "sanctions", "summits"})
REQUIRE = ["north_korea", "russia"]
#: Flags whose lines are dropped from topic and relevance scoring (GUIDE.md allows it).
DROPPED_FLAGS = frozenset({"borderline", "roundup"})


@dataclass
class Entry:
    """One labelled entry with its text."""

    id: str
    date: datetime
    title: str
    text: str
    nk_russia: bool
    topics: frozenset[str]
    event: str | None
    seed_event: str | None
    flags: frozenset[str]


@dataclass
class Seed:
    """One seed article."""

    ref: str
    title: str
    text: str
    event_date: datetime | None = None


def available() -> bool:
    """True when the shared labels and corpus are present."""
    return LABELS.exists() and EVENTS.exists() and CORPUS.is_dir()


def parse_date(s: str) -> datetime:
    """ISO date with a trailing Z."""
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def load_entries() -> list[Entry]:
    """Labelled entries with title and plain description, in date order."""
    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line]
    want = {lab["id"] for lab in labels}
    rows: dict[str, dict[str, str]] = {}
    for path in sorted(CORPUS.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if row["id"] in want:
                    rows[row["id"]] = row
    out = []
    for lab in labels:
        row = rows[lab["id"]]
        out.append(
            Entry(
                id=lab["id"],
                date=parse_date(row["date"]),
                title=row["title"],
                text=strip_html(row.get("description") or ""),
                nk_russia=bool(lab["nk_russia"]),
                topics=frozenset(lab["topics"]),
                event=lab["event"],
                seed_event=lab["seed_event"],
                flags=frozenset(lab.get("flags") or []),
            )
        )
    out.sort(key=lambda e: (e.date, e.id))
    return out


def load_events() -> dict[str, dict[str, object]]:
    """Labelled events by id."""
    data = json.loads(EVENTS.read_text(encoding="utf-8"))
    return {e["id"]: e for e in data["events"]}


def load_seeds(folder: Path = SEEDS) -> list[Seed]:
    """Seed articles as the pipeline reads them (titles and news dates from the manifest)."""
    return [
        Seed(
            ref=d.seed_id + ".txt",
            title=d.title,
            text=d.text,
            event_date=datetime.fromisoformat(d.event_date).replace(tzinfo=UTC)
            if d.event_date
            else None,
        )
        for d in load_seed_docs(folder)
    ]


def default_tagger() -> Tagger:
    """The tagger with the default taxonomy and the North Korea-Russia gate."""
    return Tagger(default_taxonomy().topics, default_taxonomy().actors, require_actors=REQUIRE)


# --------------------------------------------------------------------------------------------
@dataclass
class PRF:
    """Counts and precision/recall/F1."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when nothing was expected."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __str__(self) -> str:
        return (
            f"P={self.precision:.3f} R={self.recall:.3f} F1={self.f1:.3f} "
            f"(tp={self.tp} fp={self.fp} fn={self.fn})"
        )


@dataclass
class TagReport:
    """Topic and relevance scores, and the errors behind them."""

    topics: dict[str, PRF]
    relevance: PRF
    errors: list[str] = field(default_factory=list)
    scored: int = 0


def score_tagging(tagger: Tagger, entries: list[Entry], *, drop_flagged: bool = True) -> TagReport:
    """Per-topic and relevance precision/recall on entries (flagged ones dropped if asked)."""
    topics = {t: PRF() for t in TOPICS}
    rel = PRF()
    errors: list[str] = []
    scored = 0
    for e in entries:
        if drop_flagged and e.flags & DROPPED_FLAGS:
            continue
        scored += 1
        tagging = tagger.tag(title=e.title, text=e.text)
        got = set(tagging.topic_names())
        for t in TOPICS:
            if t in got and t in e.topics:
                topics[t].tp += 1
            elif t in got:
                topics[t].fp += 1
                hit = next(h for h in tagging.topics if h.topic == t)
                errors.append(f"FP {t:9} {e.id} {e.title[:70]!r} terms={hit.terms}")
            elif t in e.topics:
                topics[t].fn += 1
                errors.append(f"FN {t:9} {e.id} {e.title[:70]!r}")
        if tagging.relevant and e.nk_russia:
            rel.tp += 1
        elif tagging.relevant:
            rel.fp += 1
            errors.append(f"FP relevant {e.id} {e.title[:70]!r}")
        elif e.nk_russia:
            rel.fn += 1
            errors.append(f"FN relevant {e.id} {e.title[:70]!r} actors={tagging.actors}")
    return TagReport(topics=topics, relevance=rel, errors=errors, scored=scored)


# --------------------------------------------------------------------------------------------
@dataclass
class ReplayReport:
    """Outcome of replaying the labelled entries through tagger + development index."""

    clusters: dict[str, str]  # entry id -> development lineage root
    alerts: list[tuple[str, str | None, str]]  # (entry id, event, reason)
    alerts_per_event: dict[str, int]
    alerts_outside_events: int
    required_events: list[str]
    missed_events: list[str]
    seed_known_alerts: int
    pairwise: PRF
    bcubed_precision: float
    bcubed_recall: float
    log: list[str] = field(default_factory=list)

    @property
    def alerts_per_alerted_event(self) -> float:
        """Alerts divided by labelled events that got at least one alert."""
        alerted = [n for n in self.alerts_per_event.values() if n]
        return sum(alerted) / len(alerted) if alerted else 0.0


def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def replay(
    tagger: Tagger,
    entries: list[Entry],
    seeds: list[Seed],
    events: dict[str, dict[str, object]],
    *,
    index: DevelopmentIndex | None = None,
    watched: frozenset[str] = WATCHED,
) -> ReplayReport:
    """Register seeds as known developments, then feed entries in date order; count alerts."""
    idx = index if index is not None else DevelopmentIndex()
    parent: dict[str, str] = {}

    def root(k: str) -> str:
        while parent.get(k, k) != k:
            k = parent[k]
        return k

    for seed in seeds:
        tags = tagger.tag(title=seed.title, text=seed.text)
        first = min(e.date for e in entries)
        idx.add(
            key="seed:" + seed.ref,
            title=seed.title,
            text=seed.text,
            topics=frozenset(tags.topic_names()),
            published=first,
            status="known",
            seed_ref=seed.ref,
            event_date=seed.event_date,
        )
    clusters: dict[str, str] = {}
    alerts: list[tuple[str, str | None, str]] = []
    log: list[str] = []
    for e in entries:
        tagging = tagger.tag(title=e.title, text=e.text)
        topics = frozenset(tagging.topic_names())
        heads = headline_topics(tagging, e.title)
        a = idx.assign(
            title=e.title,
            text=e.text,
            topics=topics,
            published=e.date,
            watched=watched,
            headline_topics=heads,
        )
        if a.key is None:
            key = "dev:" + e.id
            idx.add(
                key=key,
                title=e.title,
                text=e.text,
                topics=topics,
                published=e.date,
                headline_topics=heads,
            )
            if a.related is not None:
                parent[key] = root(a.related)
            if tagging.relevant and topics & watched:
                alerts.append((e.id, e.event, a.reason))
                log.append(f"ALERT {e.id} event={e.event} topics={sorted(topics)} {e.title[:70]!r}")
        else:
            key = a.key
            idx.touch(
                key,
                title=e.title,
                text=e.text,
                topics=topics,
                published=e.date,
                headline_topics=heads,
            )
        clusters[e.id] = key
        log.append(f"  {e.date:%m-%d} {e.id:28} gold={e.event} -> {key} ({a.score}) {a.reason}")
    clusters = {eid: root(k) for eid, k in clusters.items()}

    per_event: Counter[str] = Counter()
    outside = 0
    for _, ev, _ in alerts:
        if ev is None:
            outside += 1
        else:
            per_event[ev] += 1
    required = [
        eid
        for eid, ev in events.items()
        if ev.get("seed") is None and ev.get("nk_russia") and set(_strs(ev["topics"])) & watched
    ]
    missed = [eid for eid in required if per_event[eid] == 0]
    seed_known = sum(n for eid, n in per_event.items() if events.get(eid, {}).get("seed"))

    # Grouping quality: gold clusters = events, entries with no event are singletons.
    gold = {e.id: e.event or ("none:" + e.id) for e in entries}
    ids = [e.id for e in entries]
    pw = PRF()
    for x, y in combinations(ids, 2):
        same_pred = clusters[x] == clusters[y]
        same_gold = gold[x] == gold[y]
        if same_pred and same_gold:
            pw.tp += 1
        elif same_pred:
            pw.fp += 1
        elif same_gold:
            pw.fn += 1
    by_pred: dict[str, set[str]] = defaultdict(set)
    by_gold: dict[str, set[str]] = defaultdict(set)
    for i in ids:
        by_pred[clusters[i]].add(i)
        by_gold[gold[i]].add(i)
    bp = sum(len(by_pred[clusters[i]] & by_gold[gold[i]]) / len(by_pred[clusters[i]]) for i in ids)
    br = sum(len(by_pred[clusters[i]] & by_gold[gold[i]]) / len(by_gold[gold[i]]) for i in ids)
    return ReplayReport(
        clusters=clusters,
        alerts=alerts,
        alerts_per_event=dict(per_event),
        alerts_outside_events=outside,
        required_events=required,
        missed_events=missed,
        seed_known_alerts=seed_known,
        pairwise=pw,
        bcubed_precision=bp / len(ids),
        bcubed_recall=br / len(ids),
        log=log,
    )


def main() -> None:
    """Print the full evaluation report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", action="store_true", help="print every error and the replay log")
    args = ap.parse_args()
    if not available():
        raise SystemExit(f"labels or corpus missing under {SHARED}")
    entries = load_entries()
    events = load_events()
    seeds = load_seeds()
    tagger = default_tagger()
    flagged = sum(1 for e in entries if e.flags & DROPPED_FLAGS)
    for drop in (True, False):
        rep = score_tagging(tagger, entries, drop_flagged=drop)
        what = f"flagged lines dropped ({flagged})" if drop else "all lines"
        print(f"== topics, {rep.scored} entries, {what}")
        for t, prf in rep.topics.items():
            print(f"  {t:10} {prf}")
        print(f"  {'relevance':10} {rep.relevance}")
        if args.verbose and drop:
            print("\n".join("    " + x for x in rep.errors))
    r = replay(tagger, entries, seeds, events)
    print("== developments (replay of all entries in date order, seeds first)")
    print(f"  pairwise   {r.pairwise}")
    print(f"  B-cubed    P={r.bcubed_precision:.3f} R={r.bcubed_recall:.3f}")
    print(f"  alerts: {len(r.alerts)} total, {r.alerts_outside_events} on entries with no event")
    print(f"  alerts per alerted event: {r.alerts_per_alerted_event:.2f} {r.alerts_per_event}")
    print(f"  required events: {r.required_events}")
    print(f"  missed events: {r.missed_events}")
    print(f"  alerts on seed-known events: {r.seed_known_alerts}")
    for eid, ev, reason in r.alerts:
        print(f"    ALERT {eid} event={ev}: {reason[:150]}")
    if args.verbose:
        print("\n".join(r.log))


if __name__ == "__main__":
    main()
