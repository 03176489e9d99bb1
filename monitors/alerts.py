"""Alert content and its renderings: Slack Block Kit, plain text, HTML and a threaded email.

`AlertContent` is what the outbox stores (`to_payload()` goes into `Alert.payload`) and what every
channel renders. Each rendering says why the alert fired: the topics, the matched terms and the
evidence sentence, the nearest known (seed) coverage, and links to every source.

User-supplied strings (headlines, titles, evidence, outlet names, URLs) are escaped for the
target format: Slack mrkdwn (`&`, `<`, `>`), HTML (`html.escape`), and only http(s)/mailto URLs
become links. Email threading: see `render_email` and docs/alerts.md.
"""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Literal, get_args
from urllib.parse import quote, urlsplit

from monitors.records import TopicHit

AlertKind = Literal[
    "new_development", "update", "feed_health", "feed_recovered", "digest", "run_failed"
]

#: Human label of each alert kind, used in subjects and message headers.
KIND_LABELS: dict[str, str] = {
    "new_development": "New development",
    "update": "Update",
    "feed_health": "Feed problem",
    "feed_recovered": "Feed recovered",
    "digest": "Digest",
    "run_failed": "Run failed",
}

#: Version of the `to_payload()` layout, stored with it.
PAYLOAD_VERSION = 1

# Slack Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_CONTEXT_MAX = 3000
SLACK_FALLBACK_MAX = 3000

_ELLIPSIS = "…"
_EVIDENCE_MAX = 700  # characters of one evidence sentence shown (before escaping)
_EVIDENCE_PER_TOPIC = 3
_SUBJECT_HEADLINE_MAX = 160
_LINK_SCHEMES = ("http", "https", "mailto")


@dataclass(frozen=True)
class SourceLink:
    """An article behind an alert: its title, URL, outlet and publication time."""

    title: str
    url: str
    outlet: str
    published: datetime | None = None


@dataclass(frozen=True)
class SeedRef:
    """The nearest seed (known coverage) and its similarity, 0-100 like `DedupMatch.score`."""

    seed_id: str
    title: str
    score: float


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AlertContent:
    """Everything an alert says, independent of the channel. Stored as `Alert.payload`."""

    monitor: str
    kind: AlertKind
    headline: str
    summary: str
    development_id: int | None = None
    topics: list[TopicHit] = field(default_factory=list)
    sources: list[SourceLink] = field(default_factory=list)
    nearest_seed: SeedRef | None = None
    run_url: str | None = None
    created_at: datetime = field(default_factory=_utcnow)
    items: list[AlertContent] = field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        """A JSON-safe dict (datetimes as ISO 8601 strings) for `Alert.payload`."""
        return {
            "version": PAYLOAD_VERSION,
            "monitor": self.monitor,
            "kind": self.kind,
            "headline": self.headline,
            "summary": self.summary,
            "development_id": self.development_id,
            "topics": [
                {"topic": t.topic, "terms": list(t.terms), "evidence": list(t.evidence)}
                for t in self.topics
            ],
            "sources": [
                {
                    "title": s.title,
                    "url": s.url,
                    "outlet": s.outlet,
                    "published": _iso(s.published) if s.published else None,
                }
                for s in self.sources
            ],
            "nearest_seed": (
                {
                    "seed_id": self.nearest_seed.seed_id,
                    "title": self.nearest_seed.title,
                    "score": self.nearest_seed.score,
                }
                if self.nearest_seed
                else None
            ),
            "run_url": self.run_url,
            "created_at": _iso(self.created_at),
            "items": [i.to_payload() for i in self.items],
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> AlertContent:
        """Rebuild content from `to_payload()` output; ValueError names a bad or missing field."""
        return _from_payload(data, "payload")


def _iso(dt: datetime) -> str:
    """ISO 8601 UTC to the second, `Z`-suffixed: how every newsmon output writes a time."""
    return _as_utc(dt).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _field(data: dict[str, Any], key: str, where: str, types: Any, *, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise ValueError(f"alert {where}: required field {key!r} is missing")
        return default
    value = data[key]
    if not isinstance(value, types):
        raise ValueError(
            f"alert {where}: field {key!r} has type {type(value).__name__}, expected "
            f"{' or '.join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))}"
        )
    return value


def _parse_dt(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"alert {where}: not an ISO 8601 datetime: {value!r}") from None


def _from_payload(data: dict[str, Any], where: str) -> AlertContent:
    if not isinstance(data, dict):
        raise ValueError(f"alert {where}: expected a JSON object, got {type(data).__name__}")
    kind = _field(data, "kind", where, str)
    if kind not in get_args(AlertKind):
        raise ValueError(
            f"alert {where}: field 'kind' must be one of {', '.join(get_args(AlertKind))}; "
            f"got {kind!r}"
        )
    topics = [
        TopicHit(
            topic=_field(t, "topic", f"{where}.topics[{n}]", str),
            terms=tuple(_field(t, "terms", f"{where}.topics[{n}]", list)),
            evidence=tuple(_field(t, "evidence", f"{where}.topics[{n}]", list)),
        )
        for n, t in enumerate(_field(data, "topics", where, list, default=[]))
    ]
    sources = [
        SourceLink(
            title=_field(s, "title", f"{where}.sources[{n}]", str),
            url=_field(s, "url", f"{where}.sources[{n}]", str),
            outlet=_field(s, "outlet", f"{where}.sources[{n}]", str),
            published=_parse_dt(
                _field(s, "published", f"{where}.sources[{n}]", (str, type(None)), default=None),
                f"{where}.sources[{n}].published",
            ),
        )
        for n, s in enumerate(_field(data, "sources", where, list, default=[]))
    ]
    seed_data = _field(data, "nearest_seed", where, (dict, type(None)), default=None)
    seed = (
        SeedRef(
            seed_id=_field(seed_data, "seed_id", f"{where}.nearest_seed", str),
            title=_field(seed_data, "title", f"{where}.nearest_seed", str),
            score=float(_field(seed_data, "score", f"{where}.nearest_seed", (int, float))),
        )
        if seed_data is not None
        else None
    )
    created = _parse_dt(_field(data, "created_at", where, str), f"{where}.created_at")
    assert created is not None
    return AlertContent(
        monitor=_field(data, "monitor", where, str),
        kind=kind,
        headline=_field(data, "headline", where, str),
        summary=_field(data, "summary", where, str, default=""),
        development_id=_field(data, "development_id", where, (int, type(None)), default=None),
        topics=topics,
        sources=sources,
        nearest_seed=seed,
        run_url=_field(data, "run_url", where, (str, type(None)), default=None),
        created_at=created,
        items=[
            _from_payload(i, f"{where}.items[{n}]")
            for n, i in enumerate(_field(data, "items", where, list, default=[]))
        ],
    )


# --- shared helpers --------------------------------------------------------------------------
def _one_line(text: str) -> str:
    """Collapse all whitespace (newlines included) to single spaces."""
    return " ".join(text.split())


def _truncate(text: str, limit: int) -> str:
    """Cut plain text to at most `limit` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + _ELLIPSIS


def _as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _fmt_time(dt: datetime | None) -> str:
    return _as_utc(dt).strftime("%Y-%m-%d %H:%M UTC") if dt else ""


def _linkable(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in _LINK_SCHEMES and bool(parts.netloc or parts.path)


def _outlets(content: AlertContent) -> list[str]:
    seen: list[str] = []
    for s in content.sources:
        name = _one_line(s.outlet)
        if name and name not in seen:
            seen.append(name)
    return seen


def _term_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    cleaned = sorted({_one_line(t) for t in terms if t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    alternatives = "|".join(re.escape(t) for t in cleaned)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _split_terms(sentence: str, terms: tuple[str, ...]) -> list[tuple[str, bool]]:
    """Split a sentence into (text, is_matched_term) segments."""
    pattern = _term_pattern(terms)
    if pattern is None:
        return [(sentence, False)]
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(sentence):
        if m.start() > pos:
            out.append((sentence[pos : m.start()], False))
        out.append((m.group(0), True))
        pos = m.end()
    if pos < len(sentence):
        out.append((sentence[pos:], False))
    return out


def _kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def _seed_line(seed: SeedRef) -> str:
    return f"{_one_line(seed.title) or seed.seed_id} ({seed.seed_id}), similarity {seed.score:.0f}%"


def _stop_hint(monitor: str) -> str:
    return (
        f'You receive this because the newsmon monitor "{monitor}" sends its alerts here. '
        "To stop them, edit the monitor file and remove this channel from its channels: "
        "section (for email: remove your address from channels.email.to)."
    )


def alert_subject(content: AlertContent) -> str:
    """One-line subject: `[newsmon:<monitor>] <Kind>: <headline> (<topics>)`."""
    headline = _truncate(_one_line(content.headline) or "(no headline)", _SUBJECT_HEADLINE_MAX)
    topics = [t.topic for t in content.topics if t.topic]
    suffix = f" ({', '.join(dict.fromkeys(topics))})" if topics else ""
    return f"[newsmon:{_one_line(content.monitor)}] {_kind_label(content.kind)}: {headline}{suffix}"


# --- Slack -----------------------------------------------------------------------------------
def slack_escape(text: str) -> str:
    """Escape `&`, `<` and `>` for Slack mrkdwn (the only characters Slack requires escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_cut(text: str, limit: int) -> str:
    """Cut mrkdwn to `limit` characters without splitting an entity or a `<link|...>`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    cut = re.sub(r"&[a-z]{0,4}$", "", cut)  # partial &amp; / &lt; / &gt;
    if cut.rfind("<") > cut.rfind(">"):  # inside a link
        cut = cut[: cut.rfind("<")]
    return cut.rstrip() + _ELLIPSIS


def _slack_text(raw: str, limit: int) -> str:
    """Escape then fit plain user text into `limit` mrkdwn characters."""
    return _slack_cut(slack_escape(_one_line(raw)), limit)


def _slack_link(url: str, label: str) -> str:
    text = slack_escape(_one_line(label) or url).replace("|", "¦")
    if not _linkable(url):
        return text
    safe_url = slack_escape(url.strip().replace("|", "%7C").replace(" ", "%20"))
    return f"<{safe_url}|{text}>"


def _slack_evidence(sentence: str, terms: tuple[str, ...]) -> str:
    sentence = _truncate(_one_line(sentence), _EVIDENCE_MAX)
    parts = []
    for text, matched in _split_terms(sentence, terms):
        esc = slack_escape(text)
        parts.append(f"*{esc}*" if matched else esc)
    return "> " + "".join(parts)


def _slack_source_line(s: SourceLink) -> str:
    label = f"{_one_line(s.outlet)} — {_truncate(_one_line(s.title), 300)}"
    when = f" ({_fmt_time(s.published)})" if s.published else ""
    return f"• {_slack_link(s.url, label)}{when}"


def _pack(lines: list[str], limit: int) -> list[str]:
    """Pack mrkdwn lines into texts of at most `limit` characters, never splitting a line."""
    texts: list[str] = []
    current = ""
    for line in lines:
        line = _slack_cut(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
        else:
            texts.append(current)
            current = line
    if current:
        texts.append(current)
    return texts


def _section(text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _slack_cut(text, SLACK_SECTION_MAX)},
    }


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _slack_cut(text, SLACK_CONTEXT_MAX)}],
    }


def _slack_topic_section(hit: TopicHit) -> dict[str, Any]:
    terms = ", ".join(f"*{_slack_text(t, 100)}*" for t in hit.terms if t.strip())
    lines = [
        f"*Why it fired — topic {_slack_text(hit.topic, 100)}*" + (f": {terms}" if terms else "")
    ]
    lines += [
        _slack_evidence(e, hit.terms) for e in hit.evidence[:_EVIDENCE_PER_TOPIC] if e.strip()
    ]
    if len(hit.evidence) > _EVIDENCE_PER_TOPIC:
        lines.append(f"_…and {len(hit.evidence) - _EVIDENCE_PER_TOPIC} more sentences_")
    return _section("\n".join(_pack(lines, SLACK_SECTION_MAX)[:1]))


def _slack_digest_item(item: AlertContent) -> str:
    first = item.sources[0] if item.sources else None
    title = _slack_text(item.headline or "(no headline)", 300)
    head = (
        f"*{_slack_link(first.url, item.headline)}*"
        if first and _linkable(first.url)
        else f"*{title}*"
    )
    label = "" if item.kind == "new_development" else f"{_kind_label(item.kind)}: "
    topics = ", ".join(_slack_text(t.topic, 60) for t in item.topics)
    lines = [f"• {label}{head}" + (f" — _{topics}_" if topics else "")]
    more = [_slack_link(s.url, s.outlet or s.title) for s in item.sources[:5]]
    if more:
        lines.append("    " + " · ".join(more))
    return "\n".join(lines)


def render_slack(content: AlertContent) -> dict[str, Any]:
    """Slack incoming-webhook payload: Block Kit blocks plus a top-level `text` fallback.

    Respects Block Kit limits (header 150 characters, section text 3000, at most 50 blocks) by
    cutting with an ellipsis and, when blocks run out, a final "N more not shown" line.
    """
    # Slack decodes &amp; &lt; &gt; in every text object, plain_text included: escape here too.
    header_text = _slack_text(content.headline or "(no headline)", SLACK_HEADER_MAX)
    head: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text, "emoji": True}}
    ]
    meta = [f"*{_slack_text(content.monitor, 100)}*", _kind_label(content.kind)]
    outlets = _outlets(content)
    if outlets:
        meta.append(_slack_text(", ".join(outlets), 1000))
    meta.append(_fmt_time(content.created_at))
    head.append(_context(" · ".join(meta)))
    if content.summary.strip():
        head.append(_section(_slack_text(content.summary, SLACK_SECTION_MAX)))

    body: list[dict[str, Any]] = []
    for hit in content.topics:
        body.append(_slack_topic_section(hit))
    if content.nearest_seed:
        body.append(
            _section(
                f"*Nearest known coverage (seed):* {slack_escape(_seed_line(content.nearest_seed))}"
            )
        )
    if content.kind == "digest" and content.items:
        for text in _pack([_slack_digest_item(i) for i in content.items], SLACK_SECTION_MAX):
            body.append(_section(text))
    if content.sources:
        lines = [f"*Sources ({len(content.sources)}):*"]
        lines += [_slack_source_line(s) for s in content.sources]
        body.extend(_section(t) for t in _pack(lines, SLACK_SECTION_MAX))

    tail: list[dict[str, Any]] = []
    if content.run_url and _linkable(content.run_url):
        tail.append(_context(_slack_link(content.run_url, "View run in Prefect")))

    room = SLACK_MAX_BLOCKS - len(head) - len(tail)
    if len(body) > room:
        omitted = len(body) - (room - 1)
        body = [*body[: room - 1], _context(f"_…{omitted} more blocks not shown (Slack limit)._")]
    fallback = _slack_cut(slack_escape(alert_subject(content)), SLACK_FALLBACK_MAX)
    return {"text": fallback, "blocks": head + body + tail}


# --- plain text ------------------------------------------------------------------------------
def _text_evidence(sentence: str, terms: tuple[str, ...]) -> str:
    sentence = _truncate(_one_line(sentence), _EVIDENCE_MAX)
    return "".join(f"*{t}*" if m else t for t, m in _split_terms(sentence, terms))


def render_text(content: AlertContent) -> str:
    """Plain-text rendering (email text part, file outbox). Matched terms are marked *like this*."""
    lines = [alert_subject(content), ""]
    lines.append(_one_line(content.headline) or "(no headline)")
    meta = [f"Monitor: {content.monitor}", _kind_label(content.kind), _fmt_time(content.created_at)]
    lines.append(" | ".join(meta))
    if content.summary.strip():
        lines += ["", content.summary.strip()]
    if content.topics:
        lines += ["", "Why it fired"]
        for hit in content.topics:
            terms = ", ".join(_one_line(t) for t in hit.terms if t.strip())
            lines.append(f"  - topic {hit.topic}" + (f" (matched: {terms})" if terms else ""))
            for e in hit.evidence[:_EVIDENCE_PER_TOPIC]:
                if e.strip():
                    lines.append(f'      "{_text_evidence(e, hit.terms)}"')
    if content.nearest_seed:
        lines += ["", f"Nearest known coverage (seed): {_seed_line(content.nearest_seed)}"]
    if content.kind == "digest" and content.items:
        lines += ["", f"Developments ({len(content.items)})"]
        for n, item in enumerate(content.items, 1):
            label = "" if item.kind == "new_development" else f"{_kind_label(item.kind)}: "
            topics = ", ".join(t.topic for t in item.topics)
            lines.append(
                f"  {n}. {label}{_one_line(item.headline)}" + (f" [{topics}]" if topics else "")
            )
            for s in item.sources:
                lines.append(f"     {_one_line(s.outlet)}: {s.url.strip()}")
    if content.sources:
        lines += ["", f"Sources ({len(content.sources)})"]
        for s in content.sources:
            when = f" ({_fmt_time(s.published)})" if s.published else ""
            lines.append(f"  - {_one_line(s.outlet)} — {_one_line(s.title)}{when}")
            lines.append(f"    {s.url.strip()}")
    if content.run_url:
        lines += ["", f"View run in Prefect: {content.run_url.strip()}"]
    lines += ["", "-- ", _stop_hint(content.monitor)]
    return "\n".join(lines) + "\n"


# --- HTML ------------------------------------------------------------------------------------
def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _html_link(url: str, label: str) -> str:
    if not _linkable(url):
        return _h(label)
    return f'<a href="{_h(url.strip())}">{_h(label)}</a>'


def _html_evidence(sentence: str, terms: tuple[str, ...]) -> str:
    sentence = _truncate(_one_line(sentence), _EVIDENCE_MAX)
    return "".join(
        f"<strong>{_h(t)}</strong>" if m else _h(t) for t, m in _split_terms(sentence, terms)
    )


_QUOTE_STYLE = "margin:4px 0 8px 0;padding:2px 10px;border-left:3px solid #c8c8c8;color:#333"


def render_html(content: AlertContent) -> str:
    """HTML email body; every user-supplied string is escaped, only http(s)/mailto URLs link."""
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{_h(alert_subject(content))}</title></head>",
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#111">',
        f'<h2 style="margin:0 0 4px 0">{_h(_one_line(content.headline) or "(no headline)")}</h2>',
        '<p style="margin:0 0 12px 0;color:#666;font-size:12px">'
        f"<strong>{_h(content.monitor)}</strong> · {_h(_kind_label(content.kind))}"
        + (f" · {_h(', '.join(_outlets(content)))}" if content.sources else "")
        + f" · {_h(_fmt_time(content.created_at))}</p>",
    ]
    if content.summary.strip():
        out.append(f"<p>{_h(content.summary.strip())}</p>")
    if content.topics:
        out.append('<h3 style="margin:16px 0 4px 0">Why it fired</h3><ul>')
        for hit in content.topics:
            terms = ", ".join(f"<strong>{_h(t)}</strong>" for t in hit.terms if t.strip())
            out.append(
                f"<li>topic <strong>{_h(hit.topic)}</strong>" + (f": {terms}" if terms else "")
            )
            for e in hit.evidence[:_EVIDENCE_PER_TOPIC]:
                if e.strip():
                    quoted = _html_evidence(e, hit.terms)
                    out.append(f'<blockquote style="{_QUOTE_STYLE}">{quoted}</blockquote>')
            out.append("</li>")
        out.append("</ul>")
    if content.nearest_seed:
        seed = _h(_seed_line(content.nearest_seed))
        out.append(f"<p><strong>Nearest known coverage (seed):</strong> {seed}</p>")
    if content.kind == "digest" and content.items:
        out.append(f'<h3 style="margin:16px 0 4px 0">Developments ({len(content.items)})</h3><ol>')
        for item in content.items:
            label = "" if item.kind == "new_development" else f"{_kind_label(item.kind)}: "
            topics = ", ".join(t.topic for t in item.topics)
            links = " · ".join(_html_link(s.url, s.outlet or s.title) for s in item.sources)
            out.append(
                f"<li>{_h(label)}<strong>{_h(_one_line(item.headline))}</strong>"
                + (f" <em>({_h(topics)})</em>" if topics else "")
                + (f"<br>{links}" if links else "")
                + "</li>"
            )
        out.append("</ol>")
    if content.sources:
        out.append(f'<h3 style="margin:16px 0 4px 0">Sources ({len(content.sources)})</h3><ul>')
        for s in content.sources:
            when = (
                f' <span style="color:#666">({_h(_fmt_time(s.published))})</span>'
                if s.published
                else ""
            )
            out.append(
                f"<li>{_h(_one_line(s.outlet))} — "
                f"{_html_link(s.url, _one_line(s.title) or s.url)}{when}</li>"
            )
        out.append("</ul>")
    if content.run_url:
        out.append(f"<p>{_html_link(content.run_url, 'View run in Prefect')}</p>")
    out.append(
        '<hr style="border:none;border-top:1px solid #ddd">'
        f'<p style="color:#666;font-size:12px">{_h(_stop_hint(content.monitor))}</p>'
    )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --- email -----------------------------------------------------------------------------------
def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "monitor"


def thread_root_id(thread_key: str, *, domain: str = "newsmon.local") -> str:
    """The stable Message-ID of a thread: `<sha1(thread_key)@domain>`."""
    return f"<{hashlib.sha1(thread_key.encode('utf-8')).hexdigest()}@{domain}>"


#: Kinds whose email opens its thread (Message-ID = the thread root). Only a development's first
#: alert qualifies: there is exactly one per development and channel (the outbox's unique key).
THREAD_OPENING_KINDS: frozenset[str] = frozenset({"new_development"})


def render_email(
    content: AlertContent,
    *,
    sender: str,
    to: list[str],
    thread_key: str,
    domain: str = "newsmon.local",
    message_key: str | None = None,
) -> EmailMessage:
    """A multipart/alternative email (text + HTML) threaded per development.

    Threading scheme: the root id is `<sha1(thread_key)@domain>`. A `new_development` alert IS the
    root (its Message-ID is the root id, so a retry re-sends the same id and receivers drop the
    duplicate). Every other kind gets its own Message-ID `<sha1(thread_key)[:16].X@domain>` and
    `In-Reply-To`/`References` pointing at the root; X is derived from `message_key` when given
    (stable across retries, e.g. the outbox row id) and random otherwise.
    Pass the same `thread_key` (e.g. `"dev:42"`) for every alert of one development.
    """
    if not to:
        raise ValueError("render_email: 'to' must name at least one recipient address")
    root = thread_root_id(thread_key, domain=domain)
    msg = EmailMessage()
    msg["Subject"] = alert_subject(content)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(datetime.now(UTC))
    if content.kind in THREAD_OPENING_KINDS:
        msg["Message-ID"] = root
    else:
        key_hash = hashlib.sha1(thread_key.encode("utf-8")).hexdigest()[:16]
        unique = (
            hashlib.sha1(message_key.encode("utf-8")).hexdigest()[:20]
            if message_key is not None
            else uuid.uuid4().hex
        )
        msg["Message-ID"] = f"<{key_hash}.{unique}@{domain}>"
        msg["In-Reply-To"] = root
        msg["References"] = root
    monitor = _one_line(content.monitor)
    msg["List-Id"] = f"newsmon monitor {monitor} <{_slug(monitor)}.{domain}>"
    address = parseaddr(sender)[1] or sender
    unsubscribe = quote(f"unsubscribe newsmon monitor {monitor}")
    msg["List-Unsubscribe"] = f"<mailto:{address}?subject={unsubscribe}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Newsmon-Monitor"] = monitor
    msg["X-Newsmon-Kind"] = content.kind
    if content.development_id is not None:
        msg["X-Newsmon-Development"] = str(content.development_id)
    msg.set_content(render_text(content), subtype="plain", charset="utf-8")
    msg.add_alternative(render_html(content), subtype="html", charset="utf-8")
    return msg


# --- example (docs/alerts.md, test alerts) ---------------------------------------------------
def example_alert() -> AlertContent:
    """A realistic sample alert, used for docs/alerts.md and to try a channel end to end."""
    evidence = (
        "North Korean leader Kim Jong Un arrived in Vladivostok on Tuesday for a summit with "
        "Russian President Vladimir Putin, state media KCNA said."
    )
    return AlertContent(
        monitor="nk-russia",
        kind="new_development",
        headline="Kim Jong Un arrives in Vladivostok for summit with Putin",
        summary=(
            "Kim travelled by armoured train and is expected to discuss weapons supplies & "
            "space cooperation with Putin, according to officials in Seoul and Moscow."
        ),
        development_id=42,
        topics=[
            TopicHit("summits", ("summit", "Vladivostok"), (evidence,)),
            TopicHit(
                "sanctions",
                ("weapons supplies",),
                ("Washington warned that any weapons supplies would breach UN sanctions.",),
            ),
        ],
        sources=[
            SourceLink(
                title="Kim arrives in Vladivostok for Putin summit",
                url="https://news.example.com/world/asia/kim-putin-summit?src=rss&id=8841",
                outlet="Example News",
                published=datetime(2024, 9, 12, 7, 55, tzinfo=UTC),
            ),
            SourceLink(
                title="North Korea's Kim in Russia for talks <live updates>",
                url="https://wire.example.org/asia/2024/09/12/kim-russia",
                outlet="Example Wire",
                published=datetime(2024, 9, 12, 8, 10, tzinfo=UTC),
            ),
        ],
        nearest_seed=SeedRef("2023-09-13-vostochny", "Kim and Putin meet at Vostochny", 38.5),
        run_url="http://127.0.0.1:4200/runs/flow-run/0b8f6c1e-4a4f-4f55-9d0e-2a7b7f1f6a11",
        created_at=datetime(2024, 9, 12, 8, 30, 0, tzinfo=UTC),
    )


if __name__ == "__main__":  # python -m monitors.alerts: print the samples of docs/alerts.md
    import json

    sample = example_alert()
    print("## Slack payload\n")
    print(json.dumps(render_slack(sample), indent=2, ensure_ascii=False))
    message = render_email(
        sample,
        sender="newsmon <alerts@example.com>",
        to=["desk@example.com"],
        thread_key="nk-russia:dev:42",
    )
    print("\n## Email headers\n")
    for name in ("Subject", "From", "To", "Message-ID", "List-Id", "List-Unsubscribe"):
        print(f"{name}: {message[name]}")
    print("\n## Email text part\n")
    print(render_text(sample))
    print("## Email HTML part\n")
    print(render_html(sample))
