"""Alert content and its renderings: Slack Block Kit, plain text, HTML and a threaded email.

This module is the front door; the parts live by concern:
`alert_content` (what an alert says and its stored payload), `alert_text` (terms, evidence,
cuts, subjects), `alert_templates` (the Jinja2 templates, user-overridable), `alert_slack`
and `alert_email` (the renderings). Each rendering says why the alert fired: the topics, the
words that matched in clean evidence sentences, the actors that put the article in scope, the
nearest known (seed) coverage when it is relevant, and links to every source.

User-supplied strings are escaped for the target format: Slack mrkdwn (`&`, `<`, `>`), HTML
(autoescaped templates), and only http(s)/mailto URLs become links. Email threading: see
`render_email` and docs/alerts.md. `python -m scripts.alert_samples` writes docs/alerts.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

from monitors.alert_content import (
    KIND_LABELS,
    PAYLOAD_VERSION,
    AlertContent,
    AlertKind,
    SeedRef,
    SourceLink,
)
from monitors.alert_email import (
    THREAD_OPENING_KINDS,
    render_email,
    render_html,
    render_text,
    thread_root_id,
)
from monitors.alert_slack import (
    SLACK_CONTEXT_MAX,
    SLACK_FALLBACK_MAX,
    SLACK_HEADER_MAX,
    SLACK_MAX_BLOCKS,
    SLACK_SECTION_MAX,
    render_slack,
    slack_escape,
)
from monitors.alert_text import alert_subject
from monitors.records import TopicHit

__all__ = [
    "KIND_LABELS",
    "PAYLOAD_VERSION",
    "SLACK_CONTEXT_MAX",
    "SLACK_FALLBACK_MAX",
    "SLACK_HEADER_MAX",
    "SLACK_MAX_BLOCKS",
    "SLACK_SECTION_MAX",
    "THREAD_OPENING_KINDS",
    "AlertContent",
    "AlertKind",
    "SeedRef",
    "SourceLink",
    "alert_subject",
    "example_alert",
    "render_email",
    "render_html",
    "render_slack",
    "render_text",
    "slack_escape",
    "thread_root_id",
]


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
        actors=["north_korea", "russia"],
        topics=[
            TopicHit("summits", ("summit", "Vladivostok"), (evidence,)),
            TopicHit(
                "sanctions",
                ("weapons supplies", "sanction*"),
                (
                    "Kim Jong Un arrives in Vladivostok for summit with Putin 2024-09-12T07:55:00Z "
                    "Washington warned that any weapons supplies would breach UN sanctions.",
                ),
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
