"""Rendering the bundled samples: outlet styles, the feed XML and the article pages."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

BASE = "{{BASE}}"
DAYS: tuple[str, ...] = (
    "2023-08-31",
    "2023-09-01",
    "2023-09-11",
    "2023-09-12",
    "2023-09-13",
    "2023-10-16",
    "2023-10-17",
    "2023-10-18",  # the corpus has no entries for this day (no daily file in the source)
    "2023-10-19",
)
SEED_FILE = "003_4a941d7cde7f6a05.txt"
FOOTER_LINKS = "".join(
    f'<li><a href="{BASE}/{path}">{label}</a></li>'
    for path, label in (
        ("about", "About us"),
        ("privacy", "Privacy policy"),
        ("terms", "Terms &amp; conditions"),
        ("contact", "Contact"),
    )
)


@dataclass(frozen=True)
class OutletStyle:
    """How an outlet's synthetic article pages look."""

    site_name: str
    nav: tuple[str, ...]
    byline: str
    footer: str
    css_prefix: str


OUTLETS: dict[str, OutletStyle] = {
    "guardian": OutletStyle(
        "The Guardian",
        ("News", "Opinion", "Sport", "Culture", "Lifestyle"),
        "Guardian staff and agencies",
        "© 2023 Guardian News & Media Limited or its affiliated companies. All rights reserved.",
        "dcr",
    ),
    "bbc-news": OutletStyle(
        "BBC News",
        ("Home", "News", "Sport", "Weather", "iPlayer", "Sounds"),
        "BBC News",
        "Copyright © 2023 BBC. The BBC is not responsible for the content of external sites.",
        "ssrcss",
    ),
    "nytimes-world": OutletStyle(
        "The New York Times",
        ("World", "U.S.", "Politics", "N.Y.", "Business", "Opinion"),
        "The New York Times",
        "© 2023 The New York Times Company. Terms of Service. Privacy Policy.",
        "css-nyt",
    ),
    "wsj-world": OutletStyle(
        "The Wall Street Journal",
        ("World", "U.S.", "Politics", "Economy", "Business", "Markets"),
        "WSJ Staff",
        "Copyright ©2023 Dow Jones & Company, Inc. All Rights Reserved.",
        "wsj",
    ),
    "aljazeera": OutletStyle(
        "Al Jazeera",
        ("News", "Middle East", "Explained", "Opinion", "Sport", "Video"),
        "Al Jazeera Staff",
        "© 2023 Al Jazeera Media Network. All rights reserved.",
        "aj",
    ),
    "nbcnews-world": OutletStyle(
        "NBC News",
        ("Politics", "U.S. News", "World", "Business", "Health"),
        "NBC News",
        "© 2023 NBC UNIVERSAL. All rights reserved.",
        "nbc",
    ),
}


@dataclass(frozen=True)
class Item:
    """One sample feed item (a corpus entry, or the synthetic seed copy)."""

    id: str
    date: str
    title: str
    description: str
    paragraphs: tuple[str, ...]
    source_feed: str
    source_outlet: str
    nk: bool
    seed_copy: bool = False

    @property
    def suffix(self) -> str:
        """The part of the id after `<slug>:`, used as the article file name."""
        return self.id.split(":", 1)[1]


def _dt(iso: str) -> datetime:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def article_url(slug: str, item: Item) -> str:
    """The item's link, relative to the `{{BASE}}` placeholder."""
    return f"{BASE}/articles/{slug}/{item.suffix}.html"


def render_feed(slug: str, style: OutletStyle, items: list[Item]) -> str:
    """RSS 2.0 document for one outlet; `items` newest first."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">',
        "<channel>",
        f"<title>{escape(style.site_name)} (newsmon sample)</title>",
        f"<link>{BASE}/</link>",
        f'<atom:link href="{BASE}/feeds/{slug}.xml" rel="self" type="application/rss+xml"/>',
        f"<description>{escape(style.site_name)}: entries of the rss2023 corpus on "
        f"{escape(', '.join(d for d in DAYS))} (newsmon sample feed)</description>",
        "<language>en</language>",
        f"<lastBuildDate>{format_datetime(_dt(items[0].date), usegmt=True)}</lastBuildDate>",
    ]
    for item in items:
        out += [
            "<item>",
            f"<title>{escape(item.title)}</title>",
            f"<link>{article_url(slug, item)}</link>",
            f'<guid isPermaLink="false">{escape(item.id)}</guid>',
            f"<pubDate>{format_datetime(_dt(item.date), usegmt=True)}</pubDate>",
            f"<description>{escape(item.description)}</description>",
            f"<source url={quoteattr(item.source_feed)}>{escape(item.source_outlet)}</source>",
            "</item>",
        ]
    out += ["</channel>", "</rss>", ""]
    return "\n".join(out)


def render_article(slug: str, style: OutletStyle, item: Item, related: list[Item]) -> str:
    """A synthetic article page in the outlet's style around the item's title and text."""
    p = style.css_prefix

    def e(text: str) -> str:
        return html.escape(text, quote=False)

    def a(text: str) -> str:
        return html.escape(text, quote=True)

    when = _dt(item.date)
    shown = when.strftime("%a %d %b %Y %H.%M UTC")
    nav = "".join(
        f'<li><a href="{BASE}/section/{e(n.lower().replace(" ", "-").replace(".", ""))}">'
        f"{e(n)}</a></li>"
        for n in style.nav
    )
    body = "\n".join(f"<p>{e(para)}</p>" for para in item.paragraphs) or f"<p>{e(item.title)}</p>"
    rel = "\n".join(f'<li><a href="{article_url(slug, r)}">{e(r.title)}</a></li>' for r in related)
    origin = (
        "synthetic copy of seed " + SEED_FILE
        if item.seed_copy
        else f"title and standfirst from the rss2023 corpus, entry {item.id}"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<!-- newsmon sample page: {e(origin)}; page layout is made up -->
<title>{e(item.title)} | {e(style.site_name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{a(item.paragraphs[0] if item.paragraphs else item.title)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{a(item.title)}">
<meta property="og:site_name" content="{a(style.site_name)}">
<meta property="og:url" content="{article_url(slug, item)}">
<meta property="article:published_time" content="{item.date}">
<meta name="author" content="{a(style.byline)}">
<link rel="canonical" href="{article_url(slug, item)}">
</head>
<body>
<header class="{p}-header">
<a class="{p}-logo" href="{BASE}/">{e(style.site_name)}</a>
<nav class="{p}-nav" aria-label="Sections"><ul>{nav}</ul></nav>
<a class="{p}-subscribe" href="{BASE}/subscribe">Subscribe</a>
</header>
<main class="{p}-main">
<article class="{p}-article">
<h1 class="{p}-headline">{e(item.title)}</h1>
<div class="{p}-meta">
<span class="{p}-byline">By {e(style.byline)}</span>
<time datetime="{item.date}">{shown}</time>
</div>
<div class="{p}-body">
{body}
</div>
</article>
<aside class="{p}-related" aria-label="Related stories">
<h2>Related stories</h2>
<ul>
{rel}
</ul>
</aside>
</main>
<footer class="{p}-footer">
<ul>{FOOTER_LINKS}</ul>
<p>{e(style.footer)}</p>
</footer>
</body>
</html>
"""
