"""Slack rendering: Block Kit blocks within Slack's limits, mrkdwn escaped, and a notification
text from the `slack.txt.j2` template (user-overridable, see `monitors.alert_templates`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from monitors.alert_content import AlertContent, SourceLink
from monitors.alert_templates import render_template
from monitors.alert_text import (
    ELLIPSIS,
    EVIDENCE_MAX,
    EVIDENCE_PER_TOPIC,
    SUMMARY_MAX,
    actor_label,
    clean_evidence,
    cut_text,
    fmt_time,
    kind_label,
    linkable,
    one_line,
    outlets,
    relevant_seed,
    seed_line,
    shown_terms,
    split_terms,
    truncate,
)
from monitors.records import TopicHit

# Slack Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_CONTEXT_MAX = 3000
SLACK_FALLBACK_MAX = 3000


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
    return cut.rstrip() + ELLIPSIS


def _slack_text(raw: str, limit: int) -> str:
    """Escape then fit plain user text into `limit` mrkdwn characters."""
    return _slack_cut(slack_escape(one_line(raw)), limit)


def _slack_link(url: str, label: str) -> str:
    text = slack_escape(one_line(label) or url).replace("|", "¦")
    if not linkable(url):
        return text
    safe_url = slack_escape(url.strip().replace("|", "%7C").replace(" ", "%20"))
    return f"<{safe_url}|{text}>"


def _slack_evidence(sentence: str, terms: tuple[str, ...]) -> str:
    sentence = truncate(one_line(sentence), EVIDENCE_MAX)
    parts = []
    for text, matched in split_terms(sentence, terms):
        esc = slack_escape(text)
        parts.append(f"*{esc}*" if matched else esc)
    return "> " + "".join(parts)


def _slack_source_line(s: SourceLink) -> str:
    label = f"{one_line(s.outlet)} — {truncate(one_line(s.title), 300)}"
    when = f" ({fmt_time(s.published)})" if s.published else ""
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


def _slack_topic_section(hit: TopicHit, headline: str) -> dict[str, Any]:
    evidence = clean_evidence(hit.evidence, headline)
    terms = ", ".join(
        f"*{_slack_text(t, 100)}*" for t in shown_terms(hit.terms, [*hit.evidence, headline])
    )
    lines = [
        f"*Why it fired — topic {_slack_text(hit.topic, 100)}*" + (f": {terms}" if terms else "")
    ]
    lines += [_slack_evidence(e, hit.terms) for e in evidence[:EVIDENCE_PER_TOPIC]]
    if len(evidence) > EVIDENCE_PER_TOPIC:
        lines.append(f"_…and {len(evidence) - EVIDENCE_PER_TOPIC} more sentences_")
    return _section("\n".join(_pack(lines, SLACK_SECTION_MAX)[:1]))


def _slack_digest_item(item: AlertContent) -> str:
    first = item.sources[0] if item.sources else None
    title = _slack_text(item.headline or "(no headline)", 300)
    head = (
        f"*{_slack_link(first.url, item.headline)}*"
        if first and linkable(first.url)
        else f"*{title}*"
    )
    label = "" if item.kind == "new_development" else f"{kind_label(item.kind)}: "
    topics = ", ".join(_slack_text(t.topic, 60) for t in item.topics)
    lines = [f"• {label}{head}" + (f" — _{topics}_" if topics else "")]
    more = [_slack_link(s.url, s.outlet or s.title) for s in item.sources[:5]]
    if more:
        lines.append("    " + " · ".join(more))
    return "\n".join(lines)


def render_slack(content: AlertContent, *, templates_dir: Path | None = None) -> dict[str, Any]:
    """Slack incoming-webhook payload: Block Kit blocks plus a top-level `text` fallback.

    Respects Block Kit limits (header 150 characters, section text 3000, at most 50 blocks) by
    cutting with an ellipsis and, when blocks run out, a final "N more not shown" line.
    """
    # Slack decodes &amp; &lt; &gt; in every text object, plain_text included: escape here too.
    header_text = _slack_text(content.headline or "(no headline)", SLACK_HEADER_MAX)
    head: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text, "emoji": True}}
    ]
    meta = [f"*{_slack_text(content.monitor, 100)}*", kind_label(content.kind)]
    names = outlets(content)
    if names:
        meta.append(_slack_text(", ".join(names), 1000))
    meta.append(fmt_time(content.created_at))
    head.append(_context(" · ".join(meta)))
    if content.summary.strip():
        summary = cut_text(content.summary, SUMMARY_MAX)
        head.append(_section(_slack_text(summary, SLACK_SECTION_MAX)))
    if len(content.actors) > 1:
        actors_text = " and ".join(actor_label(a) for a in content.actors)
        head.append(_context(f"In scope: the article names {slack_escape(actors_text)}"))

    body: list[dict[str, Any]] = []
    for hit in content.topics:
        body.append(_slack_topic_section(hit, content.headline))
    seed = relevant_seed(content.nearest_seed)
    if seed:
        body.append(_section(f"*Nearest known coverage (seed):* {slack_escape(seed_line(seed))}"))
    if content.kind == "digest" and content.items:
        for text in _pack([_slack_digest_item(i) for i in content.items], SLACK_SECTION_MAX):
            body.append(_section(text))
    if content.sources:
        lines = [f"*Sources ({len(content.sources)}):*"]
        lines += [_slack_source_line(s) for s in content.sources]
        body.extend(_section(t) for t in _pack(lines, SLACK_SECTION_MAX))

    tail: list[dict[str, Any]] = []
    if content.run_url and linkable(content.run_url):
        tail.append(_context(_slack_link(content.run_url, "View run in Prefect")))

    room = SLACK_MAX_BLOCKS - len(head) - len(tail)
    if len(body) > room:
        omitted = len(body) - (room - 1)
        body = [*body[: room - 1], _context(f"_…{omitted} more blocks not shown (Slack limit)._")]
    text = render_template("slack.txt.j2", content, templates_dir=templates_dir).strip()
    fallback = _slack_cut(slack_escape(one_line(text)), SLACK_FALLBACK_MAX)
    return {"text": fallback, "blocks": head + body + tail}
