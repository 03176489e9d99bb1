"""Unit tests of monitors.tagging: matching rules, exclusions, fuzzy names, evidence."""

from __future__ import annotations

import pytest

from monitors.tagging import EVIDENCE_CHARS, MAX_EVIDENCE, Tagger, headline_topics
from monitors.taxonomy import ActorDefinition, NearRule, TopicDefinition, default_taxonomy

REQUIRE = ["north_korea", "russia"]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(default_taxonomy().topics, default_taxonomy().actors, require_actors=REQUIRE)


def topics_of(tagger: Tagger, title: str, text: str = "") -> set[str]:
    return set(tagger.tag(title=title, text=text).topic_names())


def test_relevance_needs_every_required_actor(tagger: Tagger) -> None:
    both = tagger.tag(title="Kim Jong Un meets Putin", text="")
    assert both.relevant
    assert set(both.actors) == {"north_korea", "russia"}
    only_nk = tagger.tag(title="North Korea fires two missiles into the sea", text="")
    assert not only_nk.relevant
    assert set(only_nk.actors) == {"north_korea"}


def test_multilingual_aliases(tagger: Tagger) -> None:
    ko = tagger.tag(title="김정은, 러시아 방문", text="")
    ru = tagger.tag(
        title="Ким Чен Ын прибыл во Владивосток", text="Путин встретился с лидером КНДР."
    )
    assert ko.relevant and ru.relevant
    assert "summits" in {t.topic for t in ru.topics}


def test_fuzzy_transliteration_finds_actor(tagger: Tagger) -> None:
    tagging = tagger.tag(title="Kim Jong-eun arrives in Moscow", text="")
    assert tagging.relevant
    assert any(t.startswith("~kim jong eun") for t in tagging.actors["north_korea"])
    # Kim Jong-il (the father) is not close enough to count as Kim Jong Un.
    assert "north_korea" not in tagger.tag(title="Kim Jong-il museum opens", text="").actors


def test_summits_need_north_korean_leader(tagger: Tagger) -> None:
    assert "summits" in topics_of(tagger, "Kim Jong Un to meet Putin in Vladivostok")
    assert "summits" in topics_of(tagger, "Kim arrives in Russia for summit with Putin")
    camp = "Camp David summit unites US, Japan and South Korea against North Korea"
    assert "summits" not in topics_of(tagger, camp)
    assert "summits" not in topics_of(
        tagger, "Climbers reach the summit of Mount Paektu in North Korea"
    )


def test_sanctions_exclusions(tagger: Tagger) -> None:
    assert "sanctions" in topics_of(
        tagger, "US issues sanctions targeting North Korea-Russia arms trade"
    )
    axis = "Russia, Iran and North Korea: the axis of the sanctioned"
    assert "sanctions" not in topics_of(tagger, axis)
    nsc = "North Korea, Russia arms deal advancing, says National Security Council"
    assert "sanctions" not in topics_of(tagger, nsc)
    assert "arms" in topics_of(tagger, nsc)


def test_flights_need_north_korea_and_skip_military_flights(tagger: Tagger) -> None:
    assert "flights" in topics_of(
        tagger, "North Korea's Air Koryo makes first international flight"
    )
    assert "flights" in topics_of(tagger, "Flights between Pyongyang and Vladivostok to resume")
    assert "flights" not in topics_of(tagger, "Airline cancels flights to Spain amid strike")
    bombers = "North Korea fires missiles after US bomber flights over the peninsula"
    assert "flights" not in topics_of(tagger, bombers)


def test_arms_needs_a_transfer_not_production(tagger: Tagger) -> None:
    assert "arms" in topics_of(
        tagger, "North Korea shipped 1,000 containers of munitions to Russia"
    )
    assert "arms" in topics_of(tagger, "Hamas used North Korean-made rifles in attack")
    production = "Kim Jong Un orders sharp increase in missile production"
    assert "arms" not in topics_of(tagger, production)


def test_visits_and_exchanges(tagger: Tagger) -> None:
    assert "visits" in topics_of(tagger, "Russia's foreign minister Lavrov arrives in Pyongyang")
    assert "exchanges" in topics_of(
        tagger, "North Korea invites foreign golfers to Pyongyang tournament"
    )
    assert "exchanges" not in topics_of(tagger, "North Korea and South Korea exchange of fire")


def test_evidence_is_bounded(tagger: Tagger) -> None:
    filler = "word " * 120
    text = " ".join(
        f"Sentence {i} says Russia bought artillery shells from North Korea {filler}."
        for i in range(5)
    )
    hit = next(h for h in tagger.tag(title="Report", text=text).topics if h.topic == "arms")
    assert 1 <= len(hit.evidence) <= MAX_EVIDENCE
    assert all(len(e) <= EVIDENCE_CHARS + 2 for e in hit.evidence)  # + two ellipses
    assert "shells" in hit.evidence[0]


def test_headline_topics(tagger: Tagger) -> None:
    title = "US sanctions Russian firm over North Korea arms"
    tagging = tagger.tag(title=title, text="Lavrov visited Pyongyang last week, North Korea said.")
    assert "sanctions" in headline_topics(tagging, title)
    assert "visits" not in headline_topics(tagging, title)
    assert "visits" in tagging.topic_names()


def test_custom_config_near_rule_and_actor_reference() -> None:
    topic = TopicDefinition(
        name="ports",
        near=[NearRule(all_of=[["port*"], ["@acme"]], window=3)],
        exclude=["airport*"],
    )
    actor = ActorDefinition(name="acme", aliases=["acme corp", "acme"])
    tg = Tagger([topic], [actor], require_actors=["acme"])
    assert tg.tag(title="Acme opens two ports", text="").topic_names() == ["ports"]
    assert tg.tag(title="Acme opens an airport", text="").topic_names() == []
    far = "Acme said on Monday after a long meeting that ports"
    assert tg.tag(title=far, text="").topic_names() == []


def test_unknown_actor_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown actor"):
        Tagger([], [ActorDefinition(name="a", aliases=["a"])], require_actors=["b"])
    bad = TopicDefinition(name="t", near=[NearRule(all_of=[["@nobody"]])])
    with pytest.raises(ValueError, match="unknown actor"):
        Tagger([bad], [], require_actors=[])


def test_tourism_needs_north_korea_as_destination() -> None:
    taxonomy = default_taxonomy()
    t = Tagger(taxonomy.topics, taxonomy.actors, require_actors=["north_korea"])
    soldier = t.tag(
        title="N Korea says US soldier crossed border seeking refuge from racism",
        text="Travis King slipped away while on a tourist tour around the Joint Security Area "
        "that separates North, South Korea.",
    )
    assert "exchanges" not in soldier.topic_names()
    dmz = t.tag(title="US soldier who joined a DMZ tour group dashed into North Korea", text="")
    assert "exchanges" not in dmz.topic_names()
    for title in (
        "North Korea reopens to Chinese tourists",
        "Russian tourists arrive in Pyongyang for first time since pandemic",
    ):
        assert "exchanges" in t.tag(title=title, text="").topic_names(), title
