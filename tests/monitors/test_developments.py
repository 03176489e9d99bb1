"""Unit tests of monitors.developments: joining, new facts, seeds, the window, retrieval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitors.dev_features import _features, features, lead
from monitors.developments import DevelopmentIndex

T0 = datetime(2023, 10, 13, 12, tzinfo=UTC)
WATCHED = frozenset({"flights", "sanctions", "summits"})
CONTAINERS = (
    "White House says North Korea delivered 1,000 containers of munitions to Russia",
    "Satellite images show containers of military equipment and munitions moved by rail.",
)


def _index() -> DevelopmentIndex:
    idx = DevelopmentIndex()
    idx.add(
        key="c", title=CONTAINERS[0], text=CONTAINERS[1], topics=frozenset({"arms"}), published=T0
    )
    idx.add(
        key="golf",
        title="North Korea invites foreign golfers to Pyongyang amateur tournament",
        text="Amateur golfers from around the globe may take part.",
        topics=frozenset({"exchanges"}),
        published=T0,
    )
    return idx


def test_same_story_other_outlet_joins() -> None:
    idx = _index()
    a = idx.assign(
        title="North Korea has sent 1,000 containers of weapons to Russia, White House says",
        text="The White House said containers of munitions were delivered.",
        topics=frozenset({"arms"}),
        published=T0 + timedelta(hours=20),
        watched=WATCHED,
    )
    assert a.key == "c"
    assert "same development" in a.reason and a.score >= idx.threshold


def test_unrelated_story_starts_new_development() -> None:
    idx = _index()
    a = idx.assign(
        title="Travis King charged with desertion after fleeing to North Korea",
        text="The US Army private faces eight charges.",
        topics=frozenset(),
        published=T0,
        watched=WATCHED,
    )
    assert a.key is None and a.related is None
    assert a.reason.startswith("new development")


def test_new_watched_topic_on_known_story_is_new_development() -> None:
    idx = _index()
    a = idx.assign(
        title="US sanctions firms over North Korea's 1,000 containers of munitions to Russia",
        text="The White House said containers of munitions were delivered; sanctions follow.",
        topics=frozenset({"arms", "sanctions"}),
        published=T0 + timedelta(days=1),
        watched=WATCHED,
    )
    assert a.key is None
    assert a.related == "c"
    assert a.new_topics == frozenset({"sanctions"})
    assert "sanctions" in a.reason


@pytest.mark.parametrize(
    ("headline", "joins"),
    [
        ("North Korea's 1,000 containers of munitions to Russia: what we know", True),
        ("US sanctions firms over North Korea's 1,000 containers of munitions to Russia", False),
    ],
)
def test_once_alerted_a_watched_topic_is_news_only_in_the_headline(
    headline: str, joins: bool
) -> None:
    idx = _index()  # "c" is arms: alerted when arms is watched
    heads = frozenset({"arms", "sanctions"}) if "sanctions" in headline else frozenset({"arms"})
    a = idx.assign(
        title=headline,
        text="The White House said containers of munitions were delivered; sanctions follow.",
        topics=frozenset({"arms", "sanctions"}),
        published=T0 + timedelta(days=1),
        watched=WATCHED | {"arms"},
        headline_topics=heads,
    )
    assert (a.key == "c") is joins, a.reason
    assert joins or a.new_topics == frozenset({"sanctions"})


def test_window_closes_old_developments() -> None:
    idx = _index()
    a = idx.assign(
        title="North Korea has sent 1,000 containers of weapons to Russia, White House says",
        text="The White House said containers of munitions were delivered.",
        topics=frozenset({"arms"}),
        published=T0 + timedelta(days=10),
        watched=WATCHED,
    )
    assert a.key is None


def test_touch_extends_development() -> None:
    idx = _index()
    later = T0 + timedelta(days=2)
    idx.touch(
        "c",
        title="Kirby: containers of munitions moved to Russian depot",
        text="The shipments went by rail to a depot near Ukraine.",
        topics=frozenset({"arms", "visits"}),
        published=later,
    )
    ref = idx.get("c")
    assert ref.last_seen == later and ref.first_seen == T0
    assert ref.topics == frozenset({"arms", "visits"})
    # Reachable through the new report four days after the first one (window 3 days).
    a = idx.assign(
        title="Depot near Ukraine receives munitions by rail, Kirby says",
        text="Rail shipments reached a depot near Ukraine.",
        topics=frozenset({"arms"}),
        published=T0 + timedelta(days=4),
        watched=WATCHED,
    )
    assert a.key == "c"


def test_seed_matches_on_lead_at_any_date_not_on_background() -> None:
    idx = DevelopmentIndex()
    seed_text = (
        "Lavrov visits Pyongyang for talks with Choe Son Hui.\n"
        "Russian Foreign Minister Sergey Lavrov arrived in Pyongyang for talks with Choe Son Hui. "
        "Lavrov and Choe discussed the visit of Vladimir Putin. "
        "Lavrov thanked Pyongyang for its support.\n"
        + "Filler paragraph about the weather and markets of the region today. " * 12
        + "Earlier, the White House said 1,000 containers of munitions were shipped to Russia."
    )
    idx.add(
        key="seed:003",
        title="Lavrov visits Pyongyang for talks with Choe Son Hui",
        text=seed_text,
        topics=frozenset({"visits", "summits", "arms"}),
        published=datetime(2024, 5, 15, tzinfo=UTC),
        status="known",
        seed_ref="003.txt",
    )
    covered = idx.assign(
        title="Lavrov arrives in Pyongyang for talks with Choe Son Hui",
        text="Sergey Lavrov thanked Pyongyang for support.",
        topics=frozenset({"visits"}),
        published=T0,  # seven months before the seed's date
        watched=WATCHED,
    )
    assert covered.key == "seed:003"
    assert idx.get("seed:003").status == "known"
    background = idx.assign(
        title=CONTAINERS[0],
        text=CONTAINERS[1],
        topics=frozenset({"arms"}),
        published=T0,
        watched=WATCHED,
    )
    assert background.key is None


def test_duplicate_key_rejected_and_unknown_key_raises() -> None:
    idx = _index()
    with pytest.raises(ValueError):
        idx.add(key="c", title="x", text="", topics=frozenset(), published=T0)
    with pytest.raises(KeyError):
        idx.get("nope")


def test_lead_skips_boilerplate_and_stops_early() -> None:
    text = "newsdirectory3\n\nNewsletter\n\nLavrov visits Pyongyang for two days of talks.\n" + (
        "More background sentence about old events here. " * 30
    )
    got = lead(text)
    assert got.startswith("Lavrov visits Pyongyang")
    assert "newsdirectory3" not in got and len(got.split()) < 90


def test_features_drop_scope_words() -> None:
    f = features("North Korea's Kim meets Lavrov", "")
    assert "lavrov" in f and "meet" in f
    assert not {"north", "korea", "kim"} & f


def test_retrieval_ignores_stories_outside_window_in_a_large_index() -> None:
    idx = DevelopmentIndex()
    for i in range(3000):
        idx.add(
            key=f"d{i}",
            title=f"Story {i} about containers of munitions and item{i}",
            text="",
            topics=frozenset(),
            published=T0 - timedelta(days=30 + i % 50),
        )
    a = idx.assign(
        title="Containers of munitions story",
        text="",
        topics=frozenset(),
        published=T0,
        watched=WATCHED,
    )
    assert a.key is None
    assert len(idx) == 3000


def test_stemming_and_synonyms_fold_variants() -> None:
    a = features("North Korea fires missiles during drills", "")
    b = features("North Korea fired a missile amid exercises", "")
    assert {"fir", "missil", "drill"} <= a & b
    assert features("Travis King's mom speaks", "") & features("His mother speaks", "")


def test_headline_without_subject_uses_the_subject_item_only() -> None:
    f = features(
        "Russia-Ukraine war at a glance: day 603",
        "Putin calls ATACMS delivery a mistake by the US and Kyiv strikes airfields; Russian "
        "foreign minister arrives in North Korea ahead of expected Putin trip",
    )
    assert {"foreign", "minister", "arriv"} <= f
    assert "atacm" not in f and "airfield" not in f


def test_seed_needs_a_shared_rare_name_not_places_or_common_words() -> None:
    idx = DevelopmentIndex()
    idx.add(
        key="seed:002",
        title="Kim expected to meet Putin in Vladivostok",
        text="Pressure from South Korea and Japan grows as security cooperation deepens. "
        "Kim Jong Un will meet Vladimir Putin at the Eastern Economic Forum.",
        topics=frozenset({"summits"}),
        published=T0,
        status="known",
        seed_ref="002.txt",
    )
    a = idx.assign(
        title="South Korea and Japan deepen security cooperation",
        text="Seoul and Tokyo pledge security cooperation amid pressure.",
        topics=frozenset({"summits"}),
        published=T0,
        watched=WATCHED,
    )
    assert a.key is None  # shares only places and generic words with the seed's lead


def test_long_window_needs_a_stronger_match() -> None:
    idx = _index()
    later = T0 + timedelta(days=5)  # beyond the 3-day window, within the long window
    weak = idx.assign(
        title="Containers seen at a depot",
        text="Rail cars seen.",
        topics=frozenset(),
        published=later,
        watched=WATCHED,
    )
    assert weak.key is None
    strong = idx.assign(
        title="North Korea delivered 1,000 containers of munitions to Russia, White House says",
        text="Satellite images show containers of military equipment and munitions moved by rail.",
        topics=frozenset({"arms"}),
        published=later,
        watched=WATCHED,
    )
    assert strong.key == "c" and strong.score >= idx.long_threshold


def test_pooled_profile_joins_an_article_close_to_the_development_as_a_whole() -> None:
    idx = DevelopmentIndex()
    idx.add(
        key="l",
        title="North Korea launches ballistic missile toward the sea",
        text="The launch came after US bombers flew over the peninsula.",
        topics=frozenset(),
        published=T0,
    )
    idx.touch(
        "l",
        title="North Korea simulates tactical nuclear strike in drill",
        text="State media said the drill rehearsed a scorched earth strike.",
        topics=frozenset(),
        published=T0 + timedelta(hours=12),
    )
    a = idx.assign(
        title="North Korea fires ballistic missiles in tactical nuclear strike drill",
        text="",
        topics=frozenset(),
        published=T0 + timedelta(days=1),
        watched=WATCHED,
    )
    assert a.key == "l"


def test_grouping_features_are_computed_once_and_handed_out_as_copies() -> None:
    """`features` keeps what it computed (an article is asked for again when it joins a
    development); a caller changing its set does not change the next caller's."""

    title, text = "Lavrov arrives in Pyongyang", "Sergey Lavrov arrived in Pyongyang on Monday."
    first = features(title, text)
    hits = _features.cache_info().hits
    first.add("extra")
    again = features(title, text)
    assert _features.cache_info().hits == hits + 1
    assert "extra" not in again and "e:sergey lavrov" in again
