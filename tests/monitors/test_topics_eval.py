"""Evaluation gate on the labelled dev set (/work/shared/labels): topics, relevance, developments.

Floors are pinned just under the values measured with `python -m scripts.eval_topics`
(docs/topics.md); a change that lowers quality below them fails here. Lines flagged
`borderline` or `roundup` are dropped from topic/relevance scoring (GUIDE.md allows it).
"""

from __future__ import annotations

import pytest

from scripts import eval_topics as ev

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ev.available(), reason="shared labels/corpus not present"),
]

#: Per-topic F1 floors (measured, flagged lines dropped: flights 0.923, sanctions 1.000,
#: summits 1.000, arms 0.906, visits 0.923, exchanges 1.000 since tourism needs North Korea as
#: the destination). The dev set has 1-7 positives
#: for most topics, so one error moves F1 by 0.05-0.15; floors sit one error-step below.
TOPIC_F1_FLOOR = {
    "flights": 0.90,
    "sanctions": 0.95,
    "summits": 0.95,
    "arms": 0.88,
    "visits": 0.90,
    "exchanges": 0.95,
}
#: Relevance = both actors named (measured P 0.738, R 1.000). Recall matters most: a missed
#: North Korea-Russia article can never alert.
RELEVANCE_RECALL_FLOOR = 1.0
RELEVANCE_PRECISION_FLOOR = 0.70
#: Development grouping vs the labelled events, in this harness (the labelled entries only,
#: no outlets, so no running story): measured B-cubed P 0.792 R 0.868, pairwise P 0.670
#: R 0.769 with the running-story grouping (2026-11-30); before it 0.811/0.884, 0.700/0.801.
#: The gate on the whole corpus, outlets included, is tests/scripts/test_eval_grouping.py.
BCUBED_PRECISION_FLOOR = 0.78
BCUBED_RECALL_FLOOR = 0.86
PAIRWISE_PRECISION_FLOOR = 0.65
PAIRWISE_RECALL_FLOOR = 0.76
#: Alerts per alerted event (target <= 1.1; measured 1.00).
MAX_ALERTS_PER_EVENT = 1.1
#: Required events that may be missed here: `unsc-meeting-satellite-launch` (both entries
#: flagged borderline; it joins the satellite-launch development, which already carries
#: sanctions) and `us-sanctions-mkrtychev-firms` (with only labelled entries it joins a report
#: that joined seed 002; on the whole corpus it alerts: test_eval_grouping.py requires it).
ALLOWED_MISSES = {"unsc-meeting-satellite-launch", "us-sanctions-mkrtychev-firms"}


@pytest.fixture(scope="module")
def data() -> tuple[list[ev.Entry], dict[str, dict[str, object]], list[ev.Seed]]:
    return ev.load_entries(), ev.load_events(), ev.load_seeds()


@pytest.fixture(scope="module")
def tag_report(data) -> ev.TagReport:
    entries, _, _ = data
    return ev.score_tagging(ev.default_tagger(), entries, drop_flagged=True)


@pytest.fixture(scope="module")
def replay_report(data) -> ev.ReplayReport:
    entries, events, seeds = data
    return ev.replay(ev.default_tagger(), entries, seeds, events)


def test_dataset_is_the_expected_one(data) -> None:
    entries, events, seeds = data
    assert len(entries) == 223
    assert len(seeds) == 5
    assert "lavrov-visits-pyongyang" in events


@pytest.mark.parametrize("topic", sorted(TOPIC_F1_FLOOR))
def test_topic_f1(tag_report: ev.TagReport, topic: str) -> None:
    prf = tag_report.topics[topic]
    assert prf.tp > 0, f"{topic}: no true positive at all"
    assert prf.f1 >= TOPIC_F1_FLOOR[topic], f"{topic}: {prf}"


def test_relevance(tag_report: ev.TagReport) -> None:
    rel = tag_report.relevance
    assert rel.recall >= RELEVANCE_RECALL_FLOOR, str(rel)
    assert rel.precision >= RELEVANCE_PRECISION_FLOOR, str(rel)


def test_development_grouping(replay_report: ev.ReplayReport) -> None:
    r = replay_report
    assert r.bcubed_precision >= BCUBED_PRECISION_FLOOR
    assert r.bcubed_recall >= BCUBED_RECALL_FLOOR
    assert r.pairwise.recall >= PAIRWISE_RECALL_FLOOR, str(r.pairwise)
    assert r.pairwise.precision >= PAIRWISE_PRECISION_FLOOR, str(r.pairwise)


def test_replay_alerts(replay_report: ev.ReplayReport) -> None:
    r = replay_report
    assert len(r.required_events) == 3
    assert set(r.missed_events) <= ALLOWED_MISSES, r.missed_events
    assert r.seed_known_alerts == 0
    assert r.alerts, "the replay raised no alert at all"
    assert r.alerts_per_alerted_event <= MAX_ALERTS_PER_EVENT, r.alerts_per_event
