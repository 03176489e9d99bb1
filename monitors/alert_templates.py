"""Jinja2 templates of the alert texts: the email's text and HTML parts, Slack's notification text.

The bundled templates are package data (`monitors/templates/*.j2`). A monitor can override any
of them with `alerts.templates: DIR` (relative to the monitor file): a file there with the same
name (`email.txt.j2`, `email.html.j2`, `slack.txt.j2`) wins. Every template gets the context of
`template_context`; the HTML template is autoescaped, and links are built by the `link` filter,
which only links http(s)/mailto URLs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from markupsafe import Markup, escape

from monitors.alert_content import AlertContent
from monitors.alert_text import (
    EVIDENCE_PER_TOPIC,
    SUMMARY_MAX,
    actor_label,
    alert_subject,
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
    stop_hint,
)
from monitors.errors import NewsmonError

TEMPLATE_NAMES = ("email.txt.j2", "email.html.j2", "slack.txt.j2")


class TemplateProblem(NewsmonError):
    """A user template that does not render; the message names the file and the line."""


def _link(source: dict[str, Any], label: str) -> Markup:
    """`<a href>` for a linkable URL, else the escaped label."""
    if not source.get("linkable"):
        return escape(label)
    return Markup('<a href="{}">{}</a>').format(source["url"], label)


@lru_cache(maxsize=16)
def environment(templates_dir: str | None = None) -> Environment:
    """The template environment: `templates_dir` (when given) first, then the bundled ones."""
    loaders: list[Any] = []
    if templates_dir:
        loaders.append(FileSystemLoader(templates_dir))
    loaders.append(PackageLoader("monitors", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters["link"] = _link
    return env


def _sources(content: AlertContent) -> list[dict[str, Any]]:
    return [
        {
            "outlet": one_line(s.outlet),
            "title": one_line(s.title),
            "url": s.url.strip(),
            "linkable": linkable(s.url),
            "when": fmt_time(s.published) if s.published else "",
        }
        for s in content.sources
    ]


def template_context(content: AlertContent) -> dict[str, Any]:
    """What every template sees (plain strings; evidence as (text, is_matched_term) segments)."""
    topics = []
    for hit in content.topics:
        evidence = clean_evidence(hit.evidence, content.headline)
        topics.append(
            {
                "name": hit.topic,
                "terms": shown_terms(hit.terms, [*hit.evidence, content.headline]),
                "evidence": [split_terms(e, hit.terms) for e in evidence[:EVIDENCE_PER_TOPIC]],
                "more": max(0, len(evidence) - EVIDENCE_PER_TOPIC),
            }
        )
    seed = relevant_seed(content.nearest_seed)
    items = [
        {
            "label": "" if i.kind == "new_development" else f"{kind_label(i.kind)}: ",
            "headline": one_line(i.headline),
            "topics": [t.topic for t in i.topics],
            "sources": _sources(i),
        }
        for i in (content.items if content.kind == "digest" else [])
    ]
    return {
        "subject": alert_subject(content),
        "headline": one_line(content.headline) or "(no headline)",
        "monitor": content.monitor,
        "kind": content.kind,
        "kind_label": kind_label(content.kind),
        "outlets": outlets(content),
        "created": fmt_time(content.created_at),
        "summary": cut_text(content.summary, SUMMARY_MAX) if content.summary.strip() else "",
        "actors": [actor_label(a) for a in content.actors] if len(content.actors) > 1 else [],
        "topics": topics,
        "seed": seed_line(seed) if seed else "",
        "items": items,
        "sources": _sources(content),
        "run_url": (content.run_url or "").strip(),
        "run_linkable": bool(content.run_url and linkable(content.run_url)),
        "stop_hint": stop_hint(content.monitor),
    }


def render_template(name: str, content: AlertContent, *, templates_dir: Path | None = None) -> str:
    """Render the template `name` for `content`; TemplateProblem names a broken user template."""
    env = environment(str(templates_dir) if templates_dir else None)
    try:
        return env.get_template(name).render(template_context(content))
    except TemplateError as exc:
        where = f"{templates_dir}/{name}" if templates_dir else name
        line = getattr(exc, "lineno", None)
        raise TemplateProblem(
            f"alert template {where}{f' line {line}' if line else ''} does not render "
            f"({type(exc).__name__}: {exc}); fix it or remove it to use the bundled one"
        ) from None
