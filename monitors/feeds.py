"""Parsing RSS/Atom bytes into FeedItems, refusing hostile or unusable documents.

`parse_feed` never fetches anything: it gets the bytes `monitors.httpclient` downloaded under its
limits. Before feedparser sees the bytes, a DOCTYPE that declares entities is refused (billion
laughs, external entities), HTML is recognised, and text that does not decode in its declared
charset is re-decoded with a detected one.
"""

from __future__ import annotations

import calendar
import io
import logging
import re
import time
import xml.parsers.expat
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.html
from lxml import etree

from monitors.errors import FeedParseError
from monitors.records import FeedItem
from monitors.text import content_hash
from monitors.urls import canonical_url

log = logging.getLogger(__name__)

#: How far into the document HTML sniffing and the fallback entity scan look. A feed's prolog
#: (XML declaration, comments, DOCTYPE) is far shorter; hostile prologs longer than this are
#: still caught by the expat pass, which reads the whole prolog.
SNIFF_BYTES = 64 * 1024

#: Longest summary kept, in characters, after HTML stripping (Guardian descriptions run to a
#: few paragraphs; anything longer is page content that extraction will supply anyway).
MAX_SUMMARY_CHARS = 20_000

_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
    | {"table", "tr", "section", "article", "figure", "figcaption", "header", "footer"}
)
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:!doctype\s+html|html[\s>]|head[\s>])",
    re.I | re.S,
)
_XML_DECL = re.compile(
    rb"^(\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']"
)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_ENTITY_DECL = re.compile(rb"<!\s*ENTITY", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


#: feedparser "bozo" exceptions that do not mean the document is broken.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


class _PrologDone(Exception):
    """Raised from the expat handler when the root element starts: the DTD is over."""


class _EntityDeclared(Exception):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)


def _refuse_entities(content: bytes, *, feed_name: str, url: str) -> None:
    """Raise FeedParseError if the document's DTD declares entities."""
    parser = xml.parsers.expat.ParserCreate()

    def on_entity(name: str, *_args: Any) -> None:
        raise _EntityDeclared(name)

    def on_start(*_args: Any) -> None:
        raise _PrologDone

    parser.EntityDeclHandler = on_entity
    parser.StartElementHandler = on_start
    name: str | None = None
    try:
        parser.Parse(content, True)
    except _EntityDeclared as exc:
        name = exc.name
    except _PrologDone:
        return
    except (xml.parsers.expat.ExpatError, ValueError, LookupError):
        # Not well-formed before the root element (or an encoding expat does not know): fall
        # back to a plain scan of the start of the document.
        if _ENTITY_DECL.search(content[:SNIFF_BYTES]):
            name = "(unparsed)"
    if name is not None:
        raise FeedParseError(
            f"Feed {feed_name!r} ({url}) declares XML entities in a DOCTYPE (entity {name!r}); "
            "entity declarations are refused because they enable 'billion laughs' and "
            "external-entity attacks; check the feed URL or contact the publisher",
            url=url,
        )


def _declared_charset(content: bytes, content_type: str | None) -> str | None:
    if content_type:
        m = _CHARSET.search(content_type)
        if m:
            return m.group(1).lower()
    decl = _XML_DECL.match(content[:200])
    return decl.group(2).decode("ascii").lower() if decl else None


def _redecode(content: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """Return (UTF-8 bytes, content type) when the declared charset is wrong, else the input.

    A document that decodes in its declared charset (or in UTF-8 when none is declared) is left
    to feedparser. One that does not is decoded with the charset charset_normalizer detects,
    else windows-1252 (which decodes any byte), and handed on as UTF-8.
    """
    if content.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        return content, content_type  # UTF-16/32 with a BOM: feedparser handles it
    declared = _declared_charset(content, content_type) or "utf-8"
    try:
        content.decode(declared)
        return content, content_type
    except (UnicodeDecodeError, LookupError):
        pass
    text: str | None = None
    try:
        import charset_normalizer

        best = charset_normalizer.from_bytes(content).best()
        if best is not None:
            text = str(best)
    except Exception:  # detection is best effort; fall through to windows-1252
        text = None
    if text is None:
        text = content.decode("windows-1252", errors="replace")
    text = re.sub(
        r"^(\ufeff?\s*<\?xml[^>]*?encoding\s*=\s*[\"'])[A-Za-z0-9._:-]+",
        r"\g<1>utf-8",
        text,
        count=1,
    )
    return text.encode("utf-8"), "application/xml; charset=utf-8"


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags and scripts removed, entities decoded, whitespace
    collapsed, block elements on their own lines."""
    if not html or not html.strip():
        return ""
    if "<" not in html and "&" not in html:
        return _tidy(html)
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return _tidy(re.sub(r"<[^>]*>", " ", html))
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
    return _tidy(root.text_content())


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _published(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def parse_feed(
    content: bytes, *, feed_name: str, url: str, content_type: str | None = None
) -> list[FeedItem]:
    """Parse RSS/Atom `content` (fetched from `url`) into FeedItems, in document order.

    Raises FeedParseError naming the feed when the document declares entities, is HTML, is
    empty, or is too broken for any entry to be recovered. A valid feed without entries gives [].
    Entries without a link are skipped (they cannot be fetched or deduplicated by URL).
    """
    where = f"Feed {feed_name!r} ({url})"
    if not content.strip():
        raise FeedParseError(
            f"{where} returned an empty body, not RSS/Atom; check the feed URL", url=url
        )
    head = content[:SNIFF_BYTES].lstrip(b"\xef\xbb\xbf")
    if _HTML_START.match(head):
        raise FeedParseError(
            f"{where} is HTML, not RSS/Atom; check the feed URL "
            "(the site may have moved its feed or put it behind a login or consent page)",
            url=url,
        )
    _refuse_entities(content, feed_name=feed_name, url=url)
    data, ctype = _redecode(content, content_type)
    headers = {"content-type": ctype} if ctype else {}
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    entries = list(parsed.get("entries") or [])
    version = parsed.get("version") or ""
    problem = parsed.get("bozo_exception")
    broken = problem is not None and not isinstance(problem, _BENIGN_BOZO)
    if not entries and not version and content_type and "html" in content_type.lower():
        raise FeedParseError(f"{where} is HTML, not RSS/Atom; check the feed URL", url=url)
    items: list[FeedItem] = []
    for entry in entries:
        link = (entry.get("link") or "").strip()
        guid = (entry.get("id") or "").strip() or None
        if not link and guid and guid.startswith(("http://", "https://")):
            link = guid
        if not link:
            log.warning("%s: entry %r has no link; skipped", where, entry.get("title", ""))
            continue
        link = urljoin(url, link)
        title = html_to_text(entry.get("title") or "").replace("\n", " ")
        summary = html_to_text(entry.get("summary") or entry.get("description") or "")
        summary = summary[:MAX_SUMMARY_CHARS]
        items.append(
            FeedItem(
                feed=feed_name,
                guid=guid,
                link=link,
                url=canonical_url(link),
                title=title,
                summary=summary,
                published=_published(entry),
                content_hash=content_hash(title, summary),
            )
        )
    if not items and (broken or not version):
        raise FeedParseError(
            f"{where} is not a readable RSS/Atom document "
            f"({problem or 'no RSS/Atom root element'}); no entry could be recovered; "
            "check the feed URL or report the broken feed to the publisher",
            url=url,
        )
    if broken:
        log.warning("%s is not well-formed (%s); %d entries recovered", where, problem, len(items))
    return items
