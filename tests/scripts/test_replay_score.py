"""Reading alerts back from real Slack payloads, and the scoring rules of the replay."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from monitors.alerts import AlertContent, SourceLink, render_slack
from monitors.delivery import render_digest
from scripts.replay import slack_alerts
from scripts.replay_score import AlertRecord, StoredArticle, load_labels, score

BASE = "http://127.0.0.1:1234/articles"


def content(n: int, kind: str = "new_development") -> AlertContent:
    sources = [
        SourceLink(f"Story {n}", f"{BASE}/wire/{n:012x}.html", "Wire"),
        SourceLink(f"Story {n} again", f"{BASE}/post/{n:012x}.html", "Post"),
    ]
    return AlertContent(monitor="m", kind=kind, headline=f"Story {n}", summary="s", sources=sources)  # type: ignore[arg-type]


def resolve(url: str) -> str | None:
    slug, name = url.removeprefix(BASE + "/").split("/")
    return f"{slug}:{name.removesuffix('.html')}"


def test_a_new_development_message_is_one_alert_on_its_first_source() -> None:
    alerts = slack_alerts(render_slack(content(1)), resolve)
    assert [(a.entry_id, a.headline) for a in alerts] == [("wire:000000000001", "Story 1")]


def test_a_digest_is_one_alert_per_item_and_other_kinds_are_none() -> None:
    digest = render_digest([content(1), content(2), content(3)], monitor="m", period="now")
    alerts = slack_alerts(render_slack(digest), resolve)
    assert [a.entry_id for a in alerts] == [f"wire:{n:012x}" for n in (1, 2, 3)]
    assert slack_alerts(render_slack(content(4, kind="feed_health")), resolve) == []


def test_scoring_rules_on_a_small_story(tmp_path: Path) -> None:
    lines = [
        {"id": "a:1", "date": "2023-08-24T01:00:00Z", "relevant": True, "event": "crash"},
        {"id": "a:2", "date": "2023-08-24T02:00:00Z", "relevant": True, "event": "crash"},
        {"id": "a:3", "date": "2023-08-24T03:00:00Z", "relevant": True, "event": "putin"},
        {"id": "a:4", "date": "2023-08-24T04:00:00Z", "relevant": True, "event": "putin"},
        {"id": "a:5", "date": "2023-08-24T05:00:00Z", "relevant": False, "event": None,
         "flags": ["borderline"]},
        {"id": "a:6", "date": "2023-08-24T06:00:00Z", "relevant": True, "event": "funeral"},
    ]  # fmt: skip
    events = [
        {"id": "crash", "first_date": "2023-08-23", "topics": ["crash"], "seed": "000_x.txt"},
        {"id": "putin", "first_date": "2023-08-24", "topics": ["kremlin"], "seed": None},
        {"id": "funeral", "first_date": "2023-08-24", "topics": ["funeral"], "seed": None},
    ]
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    (tmp_path / "ev.json").write_text(json.dumps({"events": events}))
    labels = load_labels(tmp_path / "e.jsonl", tmp_path / "ev.json", {"kremlin", "funeral"})
    alerts = [AlertRecord(i, "", "") for i in ("a:2", "a:3", "a:4", "a:5")]
    stored = {
        "a:1": StoredArticle("a:1", 1, "000_x", None),
        "a:2": StoredArticle("a:2", 2, None, None),
        "a:3": StoredArticle("a:3", 3, None, None),
        "a:4": StoredArticle("a:4", 3, None, None),
        "a:6": StoredArticle("a:6", None, None, None),
    }
    days = {f"a:{n}": date(2023, 8, 24) for n in range(1, 7)}
    sc = score(
        labels, alerts, stored, start=date(2023, 8, 24), end=date(2023, 8, 24), entry_days=days
    )
    f = sc.figures()
    assert (f["alerts"], f["lenient_alerts"], f["alerts_on_seed_known_developments"]) == (4, 1, 1)
    assert f["alert_precision"] == round(2 / 3, 3)  # two on `putin`, one on the seed's crash
    assert (f["expected_developments"], f["development_recall"]) == (2, 0.5)  # funeral missed
    assert f["alerts_per_alerted_development"] == 2.0
    assert f["seed_event_coverage"] == 0.5  # a:1 joined the seed, a:2 did not
    # B-cubed over a:1-4 and a:6: {1} {2} {3,4} {6} vs crash {1,2}, putin {3,4}, funeral {6}
    assert (f["bcubed_precision"], f["bcubed_recall"]) == (1.0, 0.8)
    assert sc.missed_events == ["funeral"]
