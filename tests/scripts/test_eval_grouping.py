"""The in-process grouping replay (scripts/eval_grouping.py) on both dev stories, gated.

Every corpus entry of the window goes through the monitor's tagger, the duplicate index and
development assignment, the code the pipeline runs, and is scored like the end-to-end replay
(which `tests/scripts/test_replay.py` gates on a short window). Floors sit just under what the
shipped grouping reaches (measured 2026-12-08; docs/evaluation.md says what was fitted on what):

| story, window | alerts | recall | precision | per dev | seed-known | B3 F1 | seed cov |
|---|---:|---:|---:|---:|---:|---:|---:|
| Wagner 08-15..09-15 | 11 | 0.40 | 0.60 | 1.00 | 2 | 0.71 | 0.865 |
| Wagner 09-16..10-31 | 6 | 1.00 | 1.00 | 1.25 | 0 | 0.96 | - |
| NK-Russia 08-01..08-31 | 4 | 0.67 | 0.75 | 1.00 | 0 | 0.79 | - |

Since grouping features leave out a page's headline and byline (2026-12-08), two more reports
of the North Korea-Russia arms talks join their story, which becomes a running story on 31 Aug,
and the US sanctions on a Russian firm (WSJ, 22:29 that day, the window's last report) follow
it uncorroborated: recall 1.00 -> 0.67 in process, B3 F1 0.75 -> 0.79.

Precision counts a second alert on an expected event as right, so merging a fact's duplicate
alerts (the funeral's three into one) lowers it while alerts per development improve.
"""

from __future__ import annotations

from datetime import date

import pytest

from scripts import eval_grouping
from scripts.replay import STORIES
from scripts.replay_score import Score
from scripts.replay_server import Corpus
from scripts.shared_data import RSS2023

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(not RSS2023.is_dir(), reason="shared corpus rss2023 not present"),
]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(RSS2023)


def _replay(corpus: Corpus, story: str, start: date, end: date) -> Score:
    return eval_grouping.replay_story(
        STORIES[story], corpus, start, end, warmup_days=3, verbose=False
    )


def test_big_story_crash_month(corpus: Corpus) -> None:
    sc = _replay(corpus, "wagner", date(2023, 8, 15), date(2023, 9, 15))
    assert sc.expected_events == 15
    assert sc.recall >= 0.38, sc.missed_events
    assert sc.precision >= 0.55, sc.wrong_alerts
    assert sc.alerts_per_development <= 1.1, sc.per_event
    assert sc.seed_known_alerts <= 2
    assert sc.bcubed_f1 >= 0.68
    assert sc.seed_coverage is not None and sc.seed_coverage >= 0.85


def test_big_story_later_weeks(corpus: Corpus) -> None:
    sc = _replay(corpus, "wagner", date(2023, 9, 16), date(2023, 10, 31))
    assert sc.expected_events == 3
    assert sc.recall == 1.0, sc.missed_events
    assert sc.precision >= 0.95, sc.wrong_alerts
    assert sc.alerts_per_development <= 1.3, sc.per_event
    assert sc.bcubed_f1 >= 0.9


def test_slow_story_august(corpus: Corpus) -> None:
    sc = _replay(corpus, "nk-russia", date(2023, 8, 1), date(2023, 8, 31))
    assert sc.expected_events == 3
    assert sc.recall >= 0.66, sc.missed_events
    assert sc.precision >= 0.7, sc.wrong_alerts
    assert sc.alerts_per_development <= 1.1, sc.per_event
    assert sc.seed_known_alerts == 0
    assert sc.bcubed_f1 >= 0.76
