"""Unit tests of running stories (monitors/dev_novelty.py), seeds' news windows
(monitors/dev_seeds.py) and the monitor's subject (dev_features.scope_of)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitors.dev_features import features, scope_of
from monitors.dev_novelty import fact_of, first_story, is_running, story_start
from monitors.dev_records import HOT_REPORTS, Assignment
from monitors.developments import DevelopmentIndex
from monitors.taxonomy import ActorDefinition

T0 = datetime(2023, 8, 23, 18, tzinfo=UTC)
TEN_MIN = timedelta(minutes=10)
WATCHED = frozenset({"crash", "kremlin"})
CRASH = frozenset({"crash"})
OUTLETS = ["bbc", "ft", "wsj", "nyt", "guardian", "sky", "abc", "fox", "hill", "wapo"] * 2
WAGNER = scope_of(
    [
        ActorDefinition(name="wagner", aliases=["prigozhin*", "wagner group*", "wagner chief"]),
        ActorDefinition(name="russia", aliases=["russia", "putin*", "kremlin"]),
    ]
)
CRASH_REPORTS = [
    ("Wagner chief Prigozhin on passenger list of plane that crashed in Tver region",
     "A private jet crashed north of Moscow with ten people on board, officials said."),
    ("Prigozhin plane crash: ten dead as private jet falls in Tver region",
     "Emergency services found the wreckage of the jet near the village of Kuzhenkino."),
    ("Private jet carrying Prigozhin crashes near Kuzhenkino, all on board killed",
     "The Embraer jet was flying from Moscow to St Petersburg when it crashed."),
]  # fmt: skip


def _running_crash_story() -> DevelopmentIndex:
    """Twenty reports from ten outlets within hours: a running story."""
    idx = DevelopmentIndex(scope=WAGNER)
    for i, outlet in enumerate(OUTLETS):
        title, text = CRASH_REPORTS[i % len(CRASH_REPORTS)]
        published = T0 + i * TEN_MIN
        if i == 0:
            idx.add(key="crash", title=title, text=text, topics=CRASH, published=published,
                    ref="a0", outlet=outlet)  # fmt: skip
        else:
            idx.touch("crash", title=title, text=text, topics=CRASH, published=published,
                      ref=f"a{i}", outlet=outlet)  # fmt: skip
    return idx


def test_scope_of_takes_the_subject_actor_words_and_pattern() -> None:
    assert {"prigozhin", "wagner", "group", "chief"} <= WAGNER.words
    assert "putin" not in WAGNER.words  # the second actor is not the subject
    assert WAGNER.pattern is not None and WAGNER.pattern.search("Prigozhin's jet")
    f = features("Putin sends condolences to Prigozhin's family", "", scope=WAGNER)
    assert "condolenc" in f and "putin" in f
    assert not {"prigozhin", "wagner"} & f


def test_scope_of_honours_the_subject_flag() -> None:
    scope = scope_of(
        [
            ActorDefinition(name="a", aliases=["alpha*"]),
            ActorDefinition(name="b", aliases=["beta corp"], subject=True),
        ]
    )
    assert scope.words == frozenset({"beta", "corp"})


def test_a_story_many_outlets_cover_at_once_is_running() -> None:
    idx = _running_crash_story()
    assert is_running(idx, "crash", T0 + timedelta(hours=4))
    assert not is_running(idx, "crash", T0 + timedelta(days=4))  # two days later: quiet
    # it broke with its HOT_REPORTS-th report (one every ten minutes, each from a new outlet)
    assert story_start(idx, "crash", T0 + timedelta(hours=4)) == T0 + (HOT_REPORTS - 1) * TEN_MIN


def test_a_follow_up_in_other_words_joins_the_running_story() -> None:
    idx = _running_crash_story()
    a = idx.assign(
        title="Final breakfast of the only woman killed on Prigozhin's jet",
        text="The stewardess posted a photo from the plane before the crash.",
        topics=CRASH,
        published=T0 + timedelta(hours=20),
        watched=WATCHED,
        outlet="dailymail",
    )
    assert a.key == "crash", a.reason
    assert "running story" in a.reason


def test_a_new_fact_splits_off_only_when_a_second_outlet_reports_it() -> None:
    idx = _running_crash_story()
    later = T0 + timedelta(hours=23)
    title = "Putin sends condolences after Prigozhin jet crash, says he made mistakes"
    text = "Putin called him a talented businessman who made serious mistakes in his life."
    kremlin = frozenset({"crash", "kremlin"})
    a = idx.assign(title=title, text=text, topics=kremlin, published=later, watched=WATCHED,
                   outlet="sky")  # fmt: skip
    assert a.key == "crash", a.reason  # one outlet: a follow-up for now
    idx.touch("crash", title=title, text=text, topics=CRASH,
              published=later, ref="p1", outlet="sky")  # fmt: skip
    b = idx.assign(
        title="Putin breaks silence on plane crash: condolences, he made serious mistakes",
        text="In his first comments Putin offered condolences and said he made mistakes.",
        topics=frozenset({"crash", "kremlin"}),
        published=later + timedelta(hours=1),
        watched=WATCHED,
        outlet="abc",
    )
    assert b.key is None, b.reason
    assert b.related == "crash" and b.corroborated_by == ("p1",)
    assert "sky" in b.reason and "condolenc" in b.reason
    idx.split_off("putin", parent="crash", refs=b.corroborated_by, title=title,
                  topics=frozenset({"kremlin"}), published=later)  # fmt: skip
    assert [idx._members[m].ref for m in idx._by_dev["putin"]] == ["p1"]
    assert "p1" not in {idx._members[m].ref for m in idx._by_dev["crash"]}


def _split_condolences() -> tuple[DevelopmentIndex, datetime]:
    """The crash story with Putin's condolences split off, reported by two outlets."""
    idx = _running_crash_story()
    later = T0 + timedelta(hours=23)
    reports = [
        ("Putin sends condolences after Prigozhin jet crash, says he made mistakes", "sky", "p1"),
        ("Putin breaks silence on plane crash: condolences, he made serious mistakes", "abc", "p2"),
    ]
    for title, outlet, ref in reports:
        idx.touch("crash", title=title, text="Putin offered condolences and spoke of mistakes.",
                  topics=CRASH, published=later, ref=ref, outlet=outlet)  # fmt: skip
    idx.split_off("putin", parent="crash", refs=["p1", "p2"], title=reports[0][0],
                  topics=frozenset({"kremlin"}), published=later)  # fmt: skip
    return idx, later


def test_a_split_off_fact_is_what_most_of_its_reports_say_and_the_story_does_not() -> None:
    idx, _ = _split_condolences()
    fact = fact_of(idx, "putin")
    assert {"condolenc", "mistak"} <= fact
    assert not fact & {"crash", "plane"}  # the story's words are not the fact
    assert fact_of(idx, "crash") == set()  # the story itself split from nothing


def test_a_third_outlet_reporting_a_split_off_fact_joins_it_without_a_new_development() -> None:
    idx, later = _split_condolences()
    a = idx.assign(
        title="Putin offers condolences to Prigozhin family, speaks of serious mistakes",
        text="The president said Prigozhin had made mistakes in life.",
        topics=frozenset({"crash", "kremlin"}),
        published=later + timedelta(hours=2),
        watched=WATCHED,
        outlet="fox",
    )
    assert a.key == "putin", a.reason


def test_a_follow_up_without_the_split_off_fact_stays_with_the_story() -> None:
    idx, later = _split_condolences()
    a = idx.assign(
        title="Putin and the plane crash: what the jet's passenger list tells us",
        text="The plane crashed in Tver region with ten people on board.",
        topics=CRASH,
        published=later + timedelta(hours=2),
        watched=WATCHED,
        outlet="fox",
    )
    assert a.key == "crash", a.reason
    assert first_story(idx, "putin") == "crash" == first_story(idx, "crash")


def test_the_same_outlet_twice_is_no_corroboration() -> None:
    idx = _running_crash_story()
    later = T0 + timedelta(hours=23)
    title = "Putin sends condolences to family, says Prigozhin made serious mistakes"
    idx.touch("crash", title=title, text="", topics=CRASH, published=later, ref="p1",
              outlet="sky")  # fmt: skip
    a = idx.assign(title=title + " (update)", text="", topics=CRASH, published=later,
                   watched=WATCHED, outlet="sky")  # fmt: skip
    assert a.key == "crash", a.reason


def test_the_first_news_cycle_does_not_split() -> None:
    idx = _running_crash_story()
    soon = T0 + timedelta(hours=4)
    title = "Witnesses heard two bangs before the jet fell near Kuzhenkino village"
    idx.touch("crash", title=title, text="", topics=CRASH, published=soon, ref="w1",
              outlet="sky")  # fmt: skip
    a = idx.assign(title="Villagers heard two bangs before the jet fell", text="",
                   topics=CRASH, published=soon, watched=WATCHED, outlet="abc")  # fmt: skip
    assert a.key == "crash", a.reason


def test_a_quiet_story_keeps_the_one_report_rule() -> None:
    idx = DevelopmentIndex(scope=WAGNER)
    idx.add(key="crash", title=CRASH_REPORTS[0][0], text=CRASH_REPORTS[0][1], topics=CRASH,
            published=T0, ref="a0", outlet="bbc")  # fmt: skip
    assert not is_running(idx, "crash", T0 + timedelta(hours=1))
    a = idx.assign(
        title="Prigozhin jet crash: investigators recover flight recorders in Tver region",
        text="",
        topics=CRASH,
        published=T0 + timedelta(hours=1),
        watched=WATCHED,
        outlet="ft",
    )
    assert a.key == "crash" and "running story" not in a.reason


def test_a_dated_seed_covers_its_news_on_its_whole_text() -> None:
    idx = DevelopmentIndex(scope=WAGNER)
    idx.add(
        key="seed",
        title="Biden points finger at Putin as Prigozhin's reported death seen as a warning",
        text="Joe Biden not surprised by death of the Wagner founder killed in plane crash.\n\n"
        "Flowers were laid outside the organisation's St Petersburg headquarters. The Embraer "
        "jet came down near Kuzhenkino in Tver region with ten people on board.",
        topics=CRASH,
        published=T0 - timedelta(days=30),
        status="known",
        seed_ref="001",
        event_date=datetime(2023, 8, 23, tzinfo=UTC),
    )
    title = "Embraer jet crashed near Kuzhenkino in Tver region, ten on board"
    a = idx.assign(title=title, text="", topics=CRASH, watched=WATCHED,
                   published=T0 + timedelta(days=1), outlet="ft")  # fmt: skip
    assert a.key == "seed", a.reason
    # ...only in its news window: the same words a month later are not the seed's news
    b = idx.assign(title=title, text="", topics=CRASH, watched=WATCHED,
                   published=T0 + timedelta(days=30), outlet="ft")  # fmt: skip
    assert b.key is None, b.reason


FUNERAL = frozenset({"crash", "funeral"})


def _split_funeral_then_burial_report(hours: float) -> tuple[DevelopmentIndex, datetime]:
    """The crash story with "Putin will not attend the funeral" split off (two outlets), then,
    `hours` after, one outlet's burial report in other words, which stays in the story."""
    idx = _running_crash_story()
    later = T0 + timedelta(hours=40)
    for outlet, ref in [("sky", "f1"), ("abc", "f2")]:
        idx.touch("crash", title="Putin will not attend the funeral of Prigozhin, Kremlin says",
                  text="The Kremlin said the president had no plans to attend the funeral.",
                  topics=FUNERAL, published=later, ref=ref, outlet=outlet)  # fmt: skip
    idx.split_off("funeral", parent="crash", refs=["f1", "f2"], title="Putin will not attend",
                  topics=FUNERAL | {"kremlin"}, published=later)  # fmt: skip
    burial = later + timedelta(hours=hours)
    idx.touch("crash", title="Prigozhin buried privately in St Petersburg cemetery",
              text="A private ceremony was held at the cemetery, his press service said.",
              topics=FUNERAL, published=burial, ref="b1", outlet="wsj")  # fmt: skip
    return idx, burial


def _second_burial_report(idx: DevelopmentIndex, published: datetime) -> Assignment:
    return idx.assign(
        title="Wagner chief Prigozhin buried in private ceremony at St Petersburg cemetery",
        text="The private ceremony at the cemetery was closed to the press.",
        topics=FUNERAL,
        published=published,
        watched=WATCHED | {"funeral"},
        outlet="bbc",
    )


def test_a_new_fact_within_hours_of_a_sibling_under_its_rare_topic_joins_it() -> None:
    idx, burial = _split_funeral_then_burial_report(hours=2)
    a = _second_burial_report(idx, burial + timedelta(minutes=30))
    assert a.key == "funeral", a.reason
    assert a.corroborated_by == ("b1",)  # the first burial report moves with it
    assert "b1" in {idx._members[m].ref for m in idx._by_dev["funeral"]}
    assert "b1" not in {idx._members[m].ref for m in idx._by_dev["crash"]}


def test_a_new_fact_hours_after_its_sibling_went_quiet_is_a_new_development() -> None:
    idx, burial = _split_funeral_then_burial_report(hours=8)
    a = _second_burial_report(idx, burial + timedelta(minutes=30))
    assert a.key is None and a.related == "crash", a.reason
    assert a.corroborated_by == ("b1",)


def test_the_first_news_cycle_counts_from_when_the_story_broke_not_its_first_report() -> None:
    idx = _running_crash_story()
    for i, hours in enumerate([30, 20, 14]):  # a quiet profile of the man, before the crash
        idx.touch("crash", title="Prigozhin appears in a video from Africa", text="",
                  topics=CRASH, published=T0 - timedelta(hours=hours), ref=f"q{i}",
                  outlet="bbc")  # fmt: skip
    assert story_start(idx, "crash", T0 + timedelta(hours=4)) > T0  # when it was running
    soon = T0 + timedelta(hours=5)
    title = "Putin speaks at a Kursk battle anniversary concert as the news breaks"
    idx.touch("crash", title=title, text="", topics=CRASH, published=soon, ref="k1",
              outlet="sky")  # fmt: skip
    a = idx.assign(title="Putin at Kursk battle anniversary concert as news broke", text="",
                   topics=CRASH, published=soon, watched=WATCHED, outlet="abc")  # fmt: skip
    assert a.key == "crash", a.reason
