"""Grouping features read what an article reports, not the page furniture around it."""

from __future__ import annotations

import pytest

from monitors.dev_features import body_of, features, scope_of
from monitors.taxonomy import ActorDefinition

TITLE = "Private jet crashes north of Moscow with ten on board"
BODY = "Emergency services found the wreckage near the village of Kuzhenkino."


@pytest.mark.parametrize(
    "text",
    [
        f"{TITLE}\nBy Jane Doe\n{BODY}",
        f"{TITLE} By Al Jazeera Staff Fri 11 Aug 2023 01.17 UTC {BODY}",
        f"{TITLE}\nBy Le Monde in English (front page)\n{BODY}",
        f"By The Washington Post (World) Thu 24 Aug 2023 04:00 GMT {BODY}",
        BODY,
    ],
)
def test_the_headline_and_byline_extraction_keeps_are_left_out(text: str) -> None:
    assert body_of(TITLE, text) == BODY


@pytest.mark.parametrize(
    "text",
    [
        "By the time the fire was out, ten homes had burned to the ground in the village.",
        "Officials said By 2025 the airport will be rebuilt.",
    ],
)
def test_a_sentence_that_only_starts_with_by_is_kept(text: str) -> None:
    assert body_of(TITLE, text) == text


def test_an_outlets_byline_adds_no_feature() -> None:
    scope = scope_of([ActorDefinition(name="wagner", aliases=["prigozhin"])])
    page = f"{TITLE}\nBy The Financial Times (World) Wed 23 Aug 2023 17.56 UTC\n{BODY}"
    assert features(TITLE, page, scope=scope) == features(TITLE, BODY, scope=scope)
    assert not {f for f in features(TITLE, page, scope=scope) if "financial" in f}
