"""The replay evaluation end to end on a short window of the big story (the 23 Aug crash).

Real parts throughout: the rss2023 corpus served as feeds and pages on loopback for a simulated
clock, a real Prefect server, the real `newsmon-monitor` flow pass by pass on a fresh SQLite
database, Slack alerts through a recording webhook sink, then the score against the Wagner labels.

To stay within CI's time the window is two days (23-24 Aug: the crash, Surovikin's dismissal
covered by seed A, Putin's first comment and the US assessment that must alert) on the ten
lower-volume outlets (the Daily Mail, Guardian, Fox News and The Hill feeds carry ~60 % of the
corpus's unrelated entries; with six outlets neither expected development alerts, so recall and
precision could not be gated). Floors sit just under what today's grouping reaches (measured
2026-12-08 with the shipped grouping; raise them with the grouping): see docs/evaluation.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from scripts import replay
from scripts.replay_score import load_labels
from scripts.replay_server import Corpus
from scripts.shared_data import RSS2023
from tests.flows.prefect_server import PrefectServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # ~3 min on 2 idle cores; a shared, loaded machine takes longer
    pytest.mark.skipif(not RSS2023.is_dir(), reason="shared corpus rss2023 not present"),
]

OUTLETS = {
    "abcnews", "aljazeera", "bbc-news", "ft-world", "lemonde-en", "nbcnews-world",
    "nytimes-world", "skynews-world", "washingtonpost-world", "wsj-world",
}  # fmt: skip
WINDOW = (date(2023, 8, 23), date(2023, 8, 24))


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[replay.ReplayResult]:
    """The short window replayed once (a fresh Prefect server of its own)."""
    story = replay.STORIES["wagner"]
    root = tmp_path_factory.mktemp("replay")
    corpus = Corpus(RSS2023, OUTLETS)
    labels = load_labels(story.entries, story.events, {"crash", "kremlin", "funeral"})
    server = PrefectServer(root / "prefect", startup_timeout=300)
    with server, replay.prefect_api(server.api_url, root / "prefect"):
        yield replay.replay_window(
            story, WINDOW, corpus=corpus, labels=labels, work=root / "work",
            warmup_days=0, feed_window=timedelta(hours=24), log=lambda _line: None,
        )  # fmt: skip


def test_replay_runs_every_pass_through_real_feeds_and_a_slack_sink(
    replayed: replay.ReplayResult,
) -> None:
    assert replayed.passes == 5  # 23 Aug 00:00 .. 25 Aug 00:00 every 12 hours
    assert replayed.articles > 1000  # every entry of ten outlets over three days (1,439)
    assert replayed.slack_messages >= replayed.figures["alerts"] > 0
    assert replayed.details["unmapped_alerts"] == 0


def test_replay_figures_hold_the_floors_of_todays_grouping(
    replayed: replay.ReplayResult,
) -> None:
    # measured on 2026-12-08 (grouping features without the pages' headline and byline): 2
    # alerts, recall 0.50 (Putin's first comment alerted, the US explosion assessment did not),
    # precision 0.50, 1.0 alerts per alerted development, 1 alert on the seed-covered crash
    # (supporters paying tribute), B-cubed P 0.86 / R 0.59 / F1 0.70, seed-event coverage 0.77.
    # With the byline in the features (2026-11-30): F1 0.52, coverage 0.53. Before running
    # stories: 5 alerts, precision 0.20, 4 on the crash. Raise these with the grouping.
    f = replayed.figures
    assert f["expected_developments"] == 2  # putin-first-comments, us-says-onboard-explosion
    assert f["development_recall"] >= 0.5
    assert f["alert_precision"] >= 0.45
    assert f["alerts_per_alerted_development"] <= 1.2
    assert f["alerts_on_seed_known_developments"] <= 1
    assert f["bcubed_f1"] >= 0.65
    assert f["seed_event_coverage"] is not None and f["seed_event_coverage"] >= 0.72
