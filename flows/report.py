"""The per-run markdown report shown as a Prefect artifact."""

from __future__ import annotations

from typing import Any

from pipeline.process import ArticleOutcome
from pipeline.summary import PassSummary


def _cell(value: object) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def markdown_report(
    monitor: str, summary: PassSummary, outcomes: list[ArticleOutcome], feeds: list[Any]
) -> str:
    """A short human report: counts, new developments, alerts, duplicates, feed health."""
    lines = [f"# newsmon pass: {monitor}", ""]
    if summary.headline:
        lines += [f"**{summary.headline}**", ""]
    lines += [
        f"- feeds polled: **{summary.feeds_polled}** "
        f"(failed {len(summary.feeds_failed)}, not modified {summary.feeds_not_modified}, "
        f"skipped {len(summary.feeds_skipped)})",
        f"- new articles: **{summary.new_articles}** "
        f"(duplicates of seeds {summary.duplicates_of_seeds}, "
        f"of stored articles {summary.duplicates_of_articles})",
        f"- in scope: {summary.relevant}; topics: "
        + (", ".join(f"{k} {v}" for k, v in summary.topics.items()) or "none"),
        f"- new developments: **{summary.new_developments}**; alerts created "
        f"{summary.alerts_created}, sent {summary.alerts_sent}, "
        f"retrying {summary.alerts_retrying}, dead {summary.alerts_dead}",
        *([f"- shard round: {summary.round_note}"] if summary.round_note else []),
        "",
    ]
    new_devs = [o for o in outcomes if o.new_development]
    lines += ["## New developments", ""]
    if new_devs:
        for o in new_devs:
            lines.append(
                f"- [{_cell(o.title)}]({o.url}) — {', '.join(o.topics)} "
                f"({o.alerts} alert(s); development {o.development_id}; feed {o.feed})"
            )
            for topic, sentence in o.evidence.items():
                lines.append(f"  - *{topic}*: “{_cell(sentence)}”")
    else:
        lines.append("None in this pass.")
    dups = [o for o in outcomes if o.duplicate is not None]
    lines += ["", "## Duplicates suppressed", ""]
    if dups:
        lines += ["| article | duplicate of | level | score |", "|---|---|---|---|"]
        for o in dups:
            d = o.duplicate
            assert d is not None
            lines.append(
                f"| [{_cell(o.title)}]({o.url}) | {d.kind} {_cell(d.ref)} {_cell(d.title)} "
                f"| {d.level} | {d.score:.0f} |"
            )
    else:
        lines.append("None in this pass.")
    if summary.feeds_failed:
        lines += ["", "## Feed failures", ""]
        for name, msg in summary.feeds_failed.items():
            lines.append(f"- **{_cell(name)}**: {_cell(msg)}")
    if summary.delivery_messages:
        lines += ["", "## Delivery problems", ""]
        lines += [f"- {_cell(m)}" for m in summary.delivery_messages]
    lines += [
        "",
        "## Feed health",
        "",
        "| feed | status | failures | last success | last new item | next poll | last error |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in feeds:
        lines.append(
            f"| {_cell(f.name)} | {f.status} | {f.consecutive_failures} | "
            f"{_cell(f.last_success_at and f.last_success_at.strftime('%Y-%m-%d %H:%M'))} | "
            f"{_cell(f.last_new_item_at and f.last_new_item_at.strftime('%Y-%m-%d %H:%M'))} | "
            f"{_cell(f.next_due_at and f.next_due_at.strftime('%Y-%m-%d %H:%M'))} | "
            f"{_cell((f.last_error or '')[:120])} |"
        )
    return "\n".join(lines) + "\n"
