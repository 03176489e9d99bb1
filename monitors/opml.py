"""OPML feed lists: read the feeds of an OPML file, write a monitor's feeds as OPML 2.0, and add
feeds to a monitor file's text without losing its comments.

Every feed reader exports OPML (`<outline type="rss" text=… xmlUrl=…/>`, possibly nested in
category outlines); newsmon reads every outline with an `xmlUrl`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from lxml import etree

from monitors.errors import NewsmonError

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")


class OpmlError(NewsmonError):
    """An OPML file that cannot be read, or a monitor file the feeds cannot be added to."""


@dataclass(frozen=True)
class OpmlFeed:
    """One feed of an OPML file: its text (what readers show), its title, and the feed URL."""

    text: str
    title: str
    url: str


def parse_opml(data: bytes, *, source: str) -> list[OpmlFeed]:
    """The feeds (outlines with an `xmlUrl`) of an OPML document, in document order."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise OpmlError(f"{source}: not valid OPML/XML ({exc})") from None
    if root.tag != "opml":
        raise OpmlError(f"{source}: not an OPML file (root element <{root.tag}>, expected <opml>)")
    feeds = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if url:
            text = " ".join((outline.get("text") or outline.get("title") or "").split())
            title = " ".join((outline.get("title") or text).split())
            feeds.append(OpmlFeed(text=text, title=title, url=url))
    return feeds


def feed_name(title: str, url: str, taken: set[str]) -> str:
    """A valid, unused monitor feed name from an outline's title (else the URL's host)."""
    base = _NAME_CHARS.sub("-", title.lower()).strip(" .-_")
    if not base:
        host = re.sub(r"^https?://", "", url).split("/")[0]
        base = _NAME_CHARS.sub("-", host.lower()).strip(" .-_") or "feed"
    base = re.sub(r"-{2,}", "-", base)[:70].strip(" .-_") or "feed"
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def _yaml_str(text: str) -> str:
    """A double-quoted YAML scalar (JSON string syntax is valid YAML)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def feed_line(name: str, url: str, outlet: str | None) -> str:
    """A feed as one flow-style YAML mapping, the style of the bundled monitor files."""
    parts = [f"name: {_yaml_str(name)}"]
    if outlet:
        parts.append(f"outlet: {_yaml_str(outlet)}")
    parts.append(f"url: {_yaml_str(url)}")
    return "{" + ", ".join(parts) + "}"


def insert_feeds(text: str, lines: list[str], *, source: str) -> str:
    """`text` (a monitor file) with `lines` appended to its block-style `feeds:` list.

    Everything else, comments included, is kept byte for byte. A flow-style or missing `feeds:`
    list raises OpmlError (rewrite it as a block list, one `- {...}` per line).
    """
    if not lines:
        return text
    rows = text.splitlines(keepends=True)
    start = next((i for i, r in enumerate(rows) if re.match(r"^feeds:\s*(#.*)?$", r)), None)
    if start is None:
        raise OpmlError(
            f"{source}: no block-style `feeds:` list to add to (write one feed per line as "
            "`  - {name: ..., url: ...}` under a top-level `feeds:`)"
        )
    last_item, indent = start, "  - "
    for i in range(start + 1, len(rows)):
        row = rows[i]
        if row.strip() and not row[0].isspace() and not row.startswith(("#", "-")):
            break  # the next top-level key
        if row.strip() and not row.lstrip().startswith("#"):
            last_item = i
            m = re.match(r"^(\s*-\s+)", row)
            if m:
                indent = m.group(1)
    if not rows[last_item].endswith("\n"):
        rows[last_item] += "\n"
    new = [f"{indent}{line}\n" for line in lines]
    return "".join(rows[: last_item + 1] + new + rows[last_item + 1 :])


def build_opml(title: str, feeds: list[tuple[str, str, str]]) -> str:
    """An OPML 2.0 document of `(name, outlet, url)` feeds."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_escape(title)}</title></head>",
        "  <body>",
    ]
    for name, outlet, url in feeds:
        out.append(
            f'    <outline type="rss" text={quoteattr(outlet or name)} '
            f"title={quoteattr(name)} xmlUrl={quoteattr(url)}/>"
        )
    out += ["  </body>", "</opml>"]
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
