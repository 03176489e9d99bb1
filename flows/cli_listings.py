"""The listing commands of `newsmon`: seeds, feeds, alerts, developments and export.

Every listing prints a table that fits the terminal, or JSON with `--json`; timestamps are
ISO 8601 in UTC everywhere (tables to the minute, JSON and exports to the second).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from flows.cli_output import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    CliError,
    iso_short,
    jsonable,
    print_json,
    print_table,
)
from monitors.config import MonitorConfig, load_config


def monitor_path(args: argparse.Namespace) -> str:
    """The monitor file the command works on (`--live` picks the bundled live monitor)."""
    from flows.bundled import LIVE_MONITOR

    if getattr(args, "live", False):
        return str(LIVE_MONITOR)
    return str(args.monitor)


def load(args: argparse.Namespace) -> MonitorConfig:
    """The validated monitor configuration of the command."""
    return load_config(monitor_path(args))


def engine_of(cfg: MonitorConfig) -> Any:
    """The database engine of a monitor."""
    from storage.db import get_engine

    return get_engine(cfg.resolved_database_url)


def cmd_seeds(args: argparse.Namespace) -> int:
    """List the seed corpus as loaded."""
    from monitors.seeds import load_seeds
    from monitors.text import text_hash
    from pipeline.prepare import make_tagger

    cfg = load(args)
    tagger = make_tagger(cfg)
    records: list[dict[str, Any]] = []
    for d in load_seeds(cfg.seeds_dir):
        tags = tagger.tag(title=d.title, text=d.text)
        records.append(
            {
                "id": d.seed_id,
                "published": d.published,
                "chars": len(d.text),
                "topics": tags.topic_names(),
                "hash": text_hash(d.text)[:12],
                "title": d.title,
            }
        )
    if args.json:
        print_json(records)
        return EXIT_OK
    print(f"seed corpus: {cfg.seeds_dir} ({len(records)} documents)")
    rows = [
        [
            r["id"],
            r["published"] or "-",
            str(r["chars"]),
            ",".join(r["topics"]) or "-",
            r["hash"],
            r["title"],
        ]
        for r in records
    ]
    print_table(
        rows,
        ["id", "published", "chars", "topics", "hash", "title"],
        wrap=["title"],
        optional=["hash", "chars"],
        empty=f"no seeds in {cfg.seeds_dir}: add *.txt files there",
    )
    return EXIT_OK


def cmd_feeds(args: argparse.Namespace) -> int:
    """Feed health, or OPML import/export of the monitor's feed list."""
    if args.action in ("import", "export"):
        from flows.cli_opml import cmd_feeds_export, cmd_feeds_import

        return cmd_feeds_import(args) if args.action == "import" else cmd_feeds_export(args)
    from sqlmodel import Session

    from storage import repo_feeds

    cfg = load(args)
    with Session(engine_of(cfg)) as s:
        feeds = repo_feeds.list_feeds(s, monitor=cfg.name)
    records: list[dict[str, Any]] = [
        {
            "feed": f.name,
            "url": f.url,
            "status": f.status,
            "last_success_at": f.last_success_at,
            "last_new_item_at": f.last_new_item_at,
            "consecutive_failures": f.consecutive_failures,
            "next_due_at": f.next_due_at,
            "last_error": f.disabled_reason or f.last_error,
        }
        for f in feeds
    ]
    if args.json:
        print_json(records)
        return EXIT_OK
    rows = [
        [
            r["feed"],
            r["status"],
            iso_short(r["last_success_at"]),
            iso_short(r["last_new_item_at"]),
            str(r["consecutive_failures"]),
            iso_short(r["next_due_at"]),
            r["last_error"] or "",
        ]
        for r in records
    ]
    print_table(
        rows,
        ["feed", "status", "last success", "last new item", "failures", "next poll", "last error"],
        wrap=["last error"],
        optional=["last new item", "next poll", "failures"],
        empty=f"no feed of {cfg.name} polled yet: run `newsmon run --monitor {monitor_path(args)}`",
    )
    return EXIT_OK


def _headline(subject: str, monitor: str) -> str:
    """An alert subject without its `[newsmon:<monitor>] ` prefix (the table names the monitor)."""
    return subject.removeprefix(f"[newsmon:{monitor}] ")


def cmd_alerts(args: argparse.Namespace) -> int:
    """List alerts (pending, sent, dead) or resend dead-lettered ones."""
    from sqlmodel import Session

    from storage import repo_alerts

    cfg = load(args)
    engine = engine_of(cfg)
    if args.action == "retry":
        return _retry(cfg, engine, args)
    with Session(engine) as s:
        alerts = repo_alerts.list_alerts(s, monitor=cfg.name, status=args.status)
    if args.json:
        print_json(
            [
                {
                    "id": a.id,
                    "channel": a.channel,
                    "kind": a.kind,
                    "status": a.status,
                    "attempts": a.attempts,
                    "created_at": a.created_at,
                    "sent_at": a.sent_at,
                    "subject": a.subject,
                    "last_error": a.last_error,
                }
                for a in alerts
            ]
        )
        return EXIT_OK
    rows = [
        [
            str(a.id),
            a.channel,
            a.kind,
            a.status,
            str(a.attempts),
            iso_short(a.created_at),
            iso_short(a.sent_at) if a.sent_at else "-",
            _headline(a.subject, cfg.name),
            a.last_error or "",
        ]
        for a in alerts
    ]
    which = f"{args.status} " if args.status else ""
    print_table(
        rows,
        ["id", "channel", "kind", "status", "tries", "created", "sent", "subject", "last error"],
        wrap=["subject", "last error"],
        optional=["sent", "tries", "kind", "last error"],
        empty=f"no {which}alerts for {cfg.name}",
    )
    return EXIT_OK


def _retry(cfg: MonitorConfig, engine: Any, args: argparse.Namespace) -> int:
    """Requeue dead alerts (all, or the ids given; an unknown or live id is an error) and send."""
    from sqlmodel import Session

    from pipeline.deliver import deliver_pending
    from storage import repo_alerts
    from storage.db import session_scope

    ids: list[int] = list(args.ids or [])
    if ids:
        with Session(engine) as s:
            known = {a.id: a.status for a in repo_alerts.list_alerts(s, monitor=cfg.name)}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise CliError(
                f"alerts retry: no alert {', '.join(map(str, unknown))} in monitor {cfg.name}",
                remedy="list the dead ones with `newsmon alerts --status dead`",
                status=EXIT_NOT_FOUND,
            )
        live = [i for i in ids if known[i] != "dead"]
        if live:
            raise CliError(
                "alerts retry: "
                + ", ".join(f"alert {i} is {known[i]}" for i in live)
                + "; only dead alerts are retried",
                remedy="list the dead ones with `newsmon alerts --status dead`",
                status=EXIT_NOT_FOUND,
            )
    with session_scope(engine) as s:
        n = repo_alerts.requeue_dead_alerts(s, monitor=cfg.name, alert_ids=ids or None)
    print(f"requeued {n} dead alert(s)")
    if n == 0:
        return EXIT_OK
    report = deliver_pending(cfg, engine, alert_ids=ids or None)
    print(f"delivered {report.sent}, retrying {report.retrying}, dead {report.dead}")
    for m in report.messages:
        print(f"  {m}")
    return EXIT_OK


def cmd_developments(args: argparse.Namespace) -> int:
    """List developments: new ones (alerted) and seed-known ones."""
    from sqlmodel import Session

    from storage import repository as repo

    cfg = load(args)
    with Session(engine_of(cfg)) as s:
        devs = repo.list_developments(s, monitor=cfg.name)
    if args.json:
        print_json(
            [
                {
                    "id": d.id,
                    "status": d.status,
                    "first_seen_at": d.first_seen_at,
                    "article_count": d.article_count,
                    "topics": list(d.topics or []),
                    "outlets": list(d.outlets or []),
                    "seed": d.seed_ref,
                    "story": d.parent_id,
                    "title": d.title,
                }
                for d in devs
            ]
        )
        return EXIT_OK
    rows = [
        [
            str(d.id),
            d.status,
            iso_short(d.first_seen_at),
            str(d.article_count),
            ",".join(d.topics or []),
            ", ".join(d.outlets or []),
            d.seed_ref or "",
            f"#{d.parent_id}" if d.parent_id else "",
            d.title,
        ]
        for d in devs
    ]
    print_table(
        rows,
        ["id", "status", "first seen", "articles", "topics", "outlets", "seed", "story", "title"],
        wrap=["outlets", "title"],
        optional=["outlets", "seed", "story", "articles", "first seen"],
        empty=f"no developments for {cfg.name} yet: run a pass first",
    )
    return EXIT_OK


def export_rows(cfg: MonitorConfig, what: str) -> list[dict[str, Any]]:
    """Stored articles or alerts as flat records with ISO 8601 UTC timestamps (every format)."""
    from sqlmodel import Session

    from storage import repo_alerts
    from storage import repository as repo
    from storage.models import AlertPublic, ArticlePublic

    with Session(engine_of(cfg)) as s:
        if what == "articles":
            arts = repo.list_articles(s, monitor=cfg.name)
            tags = repo.tags_for(s, article_ids=[a.id or 0 for a in arts])
            rows = [
                ArticlePublic.model_validate(
                    a, update={"topics": sorted(t.topic for t in tags.get(a.id or 0, []))}
                ).model_dump()
                for a in arts
            ]
        else:
            rows = [
                AlertPublic.model_validate(a).model_dump()
                for a in repo_alerts.list_alerts(s, monitor=cfg.name)
            ]
    return [jsonable(r) for r in rows]


def cmd_export(args: argparse.Namespace) -> int:
    """Export stored articles or alerts as JSON Lines, a JSON array or CSV."""
    cfg = load(args)
    rows = export_rows(cfg, args.what)
    fmt = "json" if args.json else args.format
    buf = io.StringIO()
    if fmt == "jsonl":
        for r in rows:
            buf.write(json.dumps(r, ensure_ascii=False) + "\n")
    elif fmt == "json":
        buf.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    else:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["id"])
        w.writeheader()
        for r in rows:
            w.writerow(
                {
                    k: "" if v is None else ",".join(map(str, v)) if isinstance(v, list) else v
                    for k, v in r.items()
                }
            )
    if args.output:
        Path(args.output).write_text(buf.getvalue(), encoding="utf-8")
        print(f"wrote {len(rows)} {args.what} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(buf.getvalue())
    return EXIT_OK
