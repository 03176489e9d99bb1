"""Scoring of a replay against labels (either format of `shared/labels`).

Two label formats are read: the North Korea one (`labels/GUIDE.md`: `rss2023-dev.jsonl` lines
with `nk_russia`, `events-dev.json` without `alert_expected`) and the Wagner one
(`labels/wagner2023/README.md`: `entries.jsonl` lines with `relevant`, `events.json` with
`alert_expected`). An event is expected to alert when it says so, or else (GUIDE rule) when it
has no seed, its `topics` meet the monitor's alerting topics and it is in scope (`nk_russia`).

Rules, from the labels' READMEs:

- An alert counts for the event of the corpus entry it announces (its first source link).
  It is **correct** on an expected event, and on an event whose `minor_topics` meet the watched
  set (acceptable, not required); it is **wrong** on a seed-covered event (also counted as
  "alerts on seed-known developments"), on an event that should not alert, on a relevant entry
  with no event, and on an entry that is not labelled relevant.
- Lenient scoring of flagged (`borderline`, `roundup`) entries: an alert on one never counts as
  wrong, and flagged entries are left out of B-cubed and seed coverage.
- Development recall: expected events first reported in the window with at least one alert.
- B-cubed precision/recall of the stored developments over the labelled relevant entries with an
  event, first seen by the replay and dated in the window; an entry the pipeline stored without a
  development is its own cluster.
- Seed-event coverage: the share of a seed-covered event's labelled entries (in the window)
  whose stored article joined the seed's `known` development or was flagged a copy of the seed.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

LENIENT_FLAGS = frozenset({"borderline", "roundup"})


@dataclass(frozen=True, slots=True)
class LabelEntry:
    """One labelled corpus entry."""

    id: str
    day: date
    relevant: bool
    event: str | None
    seed_event: str | None
    flags: frozenset[str]

    @property
    def lenient(self) -> bool:
        """Whether graders may score this entry leniently."""
        return bool(self.flags & LENIENT_FLAGS)


@dataclass(frozen=True, slots=True)
class LabelEvent:
    """One labelled development."""

    id: str
    first_day: date
    topics: frozenset[str]
    minor_topics: frozenset[str]
    seed: str | None
    alert_expected: bool


@dataclass
class Labels:
    """Entries and events of one labelled story."""

    entries: dict[str, LabelEntry]
    events: dict[str, LabelEvent]
    watched: frozenset[str]


def _seed_id(name: str | None) -> str | None:
    return name.removesuffix(".txt") if name else None


def load_labels(entries_path: Path, events_path: Path, watched: set[str]) -> Labels:
    """Read a labelled story; `watched` are the monitor's alerting topics (GUIDE rule)."""
    entries: dict[str, LabelEntry] = {}
    for n, line in enumerate(entries_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            relevant = row["relevant"] if "relevant" in row else row["nk_russia"]
            entries[row["id"]] = LabelEntry(
                id=row["id"],
                day=date.fromisoformat(row["date"][:10]),
                relevant=bool(relevant),
                event=row.get("event"),
                seed_event=_seed_id(row.get("seed_event")),
                flags=frozenset(row.get("flags") or ()),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{entries_path}, line {n}: not a label line ({exc!r}); expected the format of "
                "labels/GUIDE.md or labels/wagner2023/README.md"
            ) from None
    try:
        raw = json.loads(events_path.read_text(encoding="utf-8"))["events"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{events_path}: not an events file with 'events' ({exc!r})") from None
    events: dict[str, LabelEvent] = {}
    for ev in raw:
        topics = frozenset(ev.get("topics") or ())
        seed = _seed_id(ev.get("seed"))
        expected = ev.get("alert_expected")
        if expected is None:
            expected = seed is None and bool(topics & watched) and ev.get("nk_russia", True)
        events[ev["id"]] = LabelEvent(
            id=ev["id"],
            first_day=date.fromisoformat(ev["first_date"]),
            topics=topics,
            minor_topics=frozenset(ev.get("minor_topics") or ()),
            seed=seed,
            alert_expected=bool(expected),
        )
    return Labels(entries, events, frozenset(watched))


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One new-development alert as delivered: the corpus entry it announces."""

    entry_id: str | None
    url: str
    headline: str


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """What the pipeline stored for one corpus entry."""

    entry_id: str
    development_id: int | None
    seed_ref: str | None  # the seed of the article's development when it is `known`
    duplicate_of_seed: str | None


@dataclass
class Score:
    """The figures of one replay window."""

    alerts: int = 0
    correct: int = 0
    wrong: int = 0
    lenient: int = 0
    seed_known_alerts: int = 0
    expected_events: int = 0
    alerted_expected: int = 0
    alerted_developments: int = 0
    alerts_on_alerted: int = 0
    bcubed_precision: float = 0.0
    bcubed_recall: float = 0.0
    bcubed_entries: int = 0
    seed_coverage: float | None = None
    seed_entries: int = 0
    wrong_alerts: list[dict[str, Any]] = field(default_factory=list)
    missed_events: list[str] = field(default_factory=list)
    per_event: dict[str, int] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        """Correct alerts over alerts scored (lenient ones left out)."""
        scored = self.correct + self.wrong
        return self.correct / scored if scored else 1.0

    @property
    def recall(self) -> float:
        """Expected developments alerted over expected developments."""
        return self.alerted_expected / self.expected_events if self.expected_events else 1.0

    @property
    def alerts_per_development(self) -> float:
        """Alerts per alerted development (expected or acceptable ones)."""
        return (
            self.alerts_on_alerted / self.alerted_developments if self.alerted_developments else 0.0
        )

    @property
    def bcubed_f1(self) -> float:
        """Harmonic mean of B-cubed precision and recall."""
        p, r = self.bcubed_precision, self.bcubed_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def figures(self) -> dict[str, Any]:
        """The headline figures as a JSON-safe dict."""
        return {
            "alerts": self.alerts,
            "alert_precision": round(self.precision, 3),
            "development_recall": round(self.recall, 3),
            "expected_developments": self.expected_events,
            "alerted_expected_developments": self.alerted_expected,
            "alerts_per_alerted_development": round(self.alerts_per_development, 3),
            "alerts_on_seed_known_developments": self.seed_known_alerts,
            "lenient_alerts": self.lenient,
            "bcubed_precision": round(self.bcubed_precision, 3),
            "bcubed_recall": round(self.bcubed_recall, 3),
            "bcubed_f1": round(self.bcubed_f1, 3),
            "bcubed_entries": self.bcubed_entries,
            "seed_event_coverage": None
            if self.seed_coverage is None
            else round(self.seed_coverage, 3),
            "seed_event_entries": self.seed_entries,
        }


def score(
    labels: Labels,
    alerts: list[AlertRecord],
    stored: dict[str, StoredArticle],
    *,
    start: date,
    end: date,
    entry_days: dict[str, date],
) -> Score:
    """Score the alerts and stored developments of one window [start, end] (inclusive)."""
    sc = Score()
    in_window = {i for i, d in entry_days.items() if start <= d <= end}
    counts: Counter[str] = Counter()
    for alert in alerts:
        if alert.entry_id not in in_window:
            continue
        sc.alerts += 1
        verdict, event = _judge(labels, alert.entry_id)
        if verdict == "correct":
            sc.correct += 1
            counts[event or ""] += 1
        elif verdict == "lenient":
            sc.lenient += 1
        else:
            sc.wrong += 1
            if verdict == "seed-known":
                sc.seed_known_alerts += 1
            sc.wrong_alerts.append({"entry": alert.entry_id, "why": verdict, "event": event,
                                    "headline": alert.headline})  # fmt: skip
    sc.per_event = dict(counts)
    sc.alerted_developments = len(counts)
    sc.alerts_on_alerted = sum(counts.values())
    expected = [
        e for e in labels.events.values() if e.alert_expected and start <= e.first_day <= end
    ]
    sc.expected_events = len(expected)
    sc.alerted_expected = sum(1 for e in expected if counts[e.id])
    sc.missed_events = sorted(e.id for e in expected if not counts[e.id])
    _bcubed(sc, labels, stored, in_window)
    _seed_coverage(sc, labels, stored, in_window)
    return sc


def _judge(labels: Labels, entry_id: str | None) -> tuple[str, str | None]:
    """(verdict, event) of an alert on `entry_id`: correct, lenient, or why it is wrong."""
    label = labels.entries.get(entry_id or "")
    if label is None:
        return "not labelled", None
    event = labels.events.get(label.event or "")
    if not label.relevant:
        verdict = "not relevant"
    elif event is None:
        verdict = "no event"
    elif event.seed or label.seed_event:
        verdict = "seed-known"
    elif event.alert_expected or event.minor_topics & labels.watched:
        return "correct", event.id
    else:
        verdict = "should not alert"
    return ("lenient" if label.lenient else verdict), label.event


def _gold(labels: Labels, stored: dict[str, StoredArticle], in_window: set[str]) -> dict[str, str]:
    """Gold event of every entry scored for grouping."""
    return {
        i: lab.event
        for i, lab in labels.entries.items()
        if lab.relevant and lab.event and not lab.lenient and i in stored and i in in_window
    }


def _bcubed(
    sc: Score, labels: Labels, stored: dict[str, StoredArticle], in_window: set[str]
) -> None:
    gold = _gold(labels, stored, in_window)
    pred = {
        i: (
            f"dev:{stored[i].development_id}"
            if stored[i].development_id is not None
            else f"solo:{i}"
        )
        for i in gold
    }
    by_gold: dict[str, set[str]] = defaultdict(set)
    by_pred: dict[str, set[str]] = defaultdict(set)
    for i in gold:
        by_gold[gold[i]].add(i)
        by_pred[pred[i]].add(i)
    if not gold:
        return
    p = r = 0.0
    for i in gold:
        same = by_gold[gold[i]] & by_pred[pred[i]]
        p += len(same) / len(by_pred[pred[i]])
        r += len(same) / len(by_gold[gold[i]])
    sc.bcubed_precision, sc.bcubed_recall = p / len(gold), r / len(gold)
    sc.bcubed_entries = len(gold)


def _seed_coverage(
    sc: Score, labels: Labels, stored: dict[str, StoredArticle], in_window: set[str]
) -> None:
    joined = total = 0
    for i, lab in labels.entries.items():
        event = labels.events.get(lab.event or "")
        seed = (event.seed if event else None) or lab.seed_event
        if not seed or not lab.relevant or lab.lenient or i not in stored or i not in in_window:
            continue
        total += 1
        art = stored[i]
        joined += int(art.seed_ref == seed or art.duplicate_of_seed == seed)
    sc.seed_entries = total
    sc.seed_coverage = joined / total if total else None
