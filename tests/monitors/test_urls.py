"""canonical_url on real link pairs from shared/corpora/rss2023 and on synthetic edge cases."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from urllib.parse import urlsplit

import pytest

from monitors.urls import canonical_url
from scripts.shared_data import RSS2023

CORPUS = RSS2023

# Pairs copied verbatim from the corpus (README "Deduplication"): the same article twice.
SAME_ARTICLE = [
    (  # Al Jazeera ?traffic_source=rss
        "https://www.aljazeera.com/news/2023/8/27/france-to-ban-wearing-abaya-dress-in-schools-minister",
        "https://www.aljazeera.com/news/2023/8/27/france-to-ban-wearing-abaya-dress-in-schools-minister?traffic_source=rss",
    ),
    (  # WSJ ?mod=
        "https://www.wsj.com/articles/a-real-estate-haven-turns-perilous-with-roughly-1-trillion-coming-due-74d20528",
        "https://www.wsj.com/articles/a-real-estate-haven-turns-perilous-with-roughly-1-trillion-coming-due-74d20528?mod=hp_lead_pos7",
    ),
    (  # WSJ with the whole query percent-encoded
        "https://www.wsj.com/articles/west-coast-dockworkers-union-files-for-bankruptcy-over-port-lawsuit-cc5f0c5c",
        "https://www.wsj.com/articles/west-coast-dockworkers-union-files-for-bankruptcy-over-port-lawsuit-cc5f0c5c?mod%3DSearchresults_pos1%26page%3D1",
    ),
    (  # Washington Post trailing slash
        "https://www.washingtonpost.com/world/2023/10/09/hamas-israel-war-explainer/",
        "https://www.washingtonpost.com/world/2023/10/09/hamas-israel-war-explainer",
    ),
]

# ABC News: same path, different ?id= -> different articles.
DIFFERENT_ARTICLES = [
    (
        "https://abcnews.go.com/International/libya-flooding-death-toll-storm-daniel/story?id=103143672",
        "https://abcnews.go.com/International/libya-flooding-death-toll-storm-daniel/story?id=103214362",
    ),
    (
        "https://abcnews.go.com/International/live-updates/?id=103047032",
        "https://abcnews.go.com/International/live-updates/?id=104265278",
    ),
]


@pytest.mark.parametrize(("a", "b"), SAME_ARTICLE)
def test_real_pairs_of_one_article_collapse(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT_ARTICLES)
def test_abc_id_parameter_is_kept(a: str, b: str) -> None:
    ca, cb = canonical_url(a), canonical_url(b)
    assert ca != cb
    assert "id=" in ca and "id=" in cb


def test_bbc_and_daily_mail_tracking_removed() -> None:
    assert (
        canonical_url("https://www.bbc.co.uk/news/uk-66255727?at_medium=RSS&at_campaign=KARANGA")
        == "https://www.bbc.co.uk/news/uk-66255727"
    )
    assert (
        canonical_url(
            "https://www.dailymail.co.uk/debate/article-12358721/X.html"
            "?ns_mchannel=rss&ns_campaign=1490&ito=1490"
        )
        == "https://www.dailymail.co.uk/debate/article-12358721/X.html"
    )


def test_normalisation_rules() -> None:
    assert canonical_url("HTTPS://Example.COM:443") == "https://example.com/"
    assert canonical_url("http://example.com:80/a/#frag") == "http://example.com/a"
    assert canonical_url("http://example.com:8080/a") == "http://example.com:8080/a"
    assert canonical_url("https://example.com/") == "https://example.com/"
    assert (
        canonical_url("https://example.com/p?z=1&utm_source=x&a=2&fbclid=abc&gclid=1&CMP=foo")
        == "https://example.com/p?a=2&z=1"
    )
    # encoding of kept parameters is preserved; path case is kept (paths are case-sensitive)
    assert (
        canonical_url("https://Example.com/Fitt?headerContent=Live%20Blog&id=1")
        == "https://example.com/Fitt?headerContent=Live%20Blog&id=1"
    )
    assert canonical_url("  https://example.com/a?ref=rss&smid=tw  ") == "https://example.com/a"


def test_non_http_input_is_returned_unchanged() -> None:
    assert canonical_url("mailto:a@example.com") == "mailto:a@example.com"
    assert canonical_url("/relative/path/") == "/relative/path/"
    assert canonical_url("") == ""


def _load(outlet: str) -> list[str]:
    with gzip.open(CORPUS / f"{outlet}.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line)["link"] for line in fh]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/corpora/rss2023 not present")
@pytest.mark.parametrize(
    ("outlet", "expected_pairs"),
    [("aljazeera", 20), ("wsj-world", 23), ("washingtonpost-world", 10), ("abcnews", 0)],
)
def test_corpus_near_duplicate_counts(outlet: str, expected_pairs: int) -> None:
    """The README's counts: every known link pair collapses, and nothing else does."""
    groups: dict[str, set[str]] = defaultdict(set)
    for link in _load(outlet):
        groups[canonical_url(link)].add(link)
    merged = [links for links in groups.values() if len(links) > 1]
    assert len(merged) == expected_pairs
    for links in merged:  # merged links always share host and path (modulo a trailing slash)
        assert len({urlsplit(x).path.rstrip("/") for x in links}) == 1
