"""The `newsmon` command line."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monitors.config import MonitorConfig, load_config
from monitors.errors import ConfigError, FetchError, NewsmonError

DEFAULT_MONITOR = "config/sample.yaml"
LIVE_MONITOR = "config/live.yaml"


def _monitor_path(args: argparse.Namespace) -> str:
    if getattr(args, "live", False):
        return LIVE_MONITOR
    return str(args.monitor)


def _load(args: argparse.Namespace) -> MonitorConfig:
    return load_config(_monitor_path(args))


def _engine(cfg: MonitorConfig) -> Any:
    from storage.db import get_engine

    return get_engine(cfg.resolved_database_url)


def _fmt_dt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


# --- commands ------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    """One monitoring pass as a Prefect flow run; prints the summary and the run's URL."""
    path = _monitor_path(args)
    cfg = load_config(path)  # a bad file stops here, before any work
    from prefect import tags

    from flows.monitor_flow import monitor_flow

    with tags("newsmon", cfg.name):
        summary = monitor_flow(monitor=path, force=not args.due_only)
    print(format_summary(cfg, summary.as_dict()))
    return 0


def format_summary(cfg: MonitorConfig, s: dict[str, Any]) -> str:
    """The human summary of a pass."""
    topics = ", ".join(f"{k} {v}" for k, v in s["topics"].items()) or "none"
    lines = [
        f'newsmon: monitor "{cfg.name}": pass completed',
        f"  feeds polled       {s['feeds_polled']} ({len(s['feeds_failed'])} failed, "
        f"{s['feeds_not_modified']} not modified, {len(s['feeds_skipped'])} not due)",
        f"  entries seen       {s['entries_seen']}",
        f"  new articles       {s['new_articles']} (duplicates of seeds "
        f"{s['duplicates_of_seeds']}, of stored articles {s['duplicates_of_articles']}); "
        f"updated {s['updated_articles']}",
        f"  in scope           {s['relevant']}",
        f"  topics             {topics}",
        f"  new developments   {s['new_developments']}",
        f"  alerts             {s['alerts_created']} created; {s['alerts_sent']} sent, "
        f"{s['alerts_retrying']} retrying, {s['alerts_dead']} dead",
    ]
    if cfg.channels.outbox:
        lines.append(f"  outbox             {cfg.outbox_dir}")
    for name, msg in s["feeds_failed"].items():
        lines.append(f"  FEED FAILED        {name}: {msg}")
    for msg in s.get("feed_health", []):
        lines.append(f"  FEED HEALTH        {msg}")
    for msg in s.get("delivery_messages", []):
        lines.append(f"  DELIVERY           {msg}")
    for name in s.get("possible_gaps", []):
        lines.append(f"  POSSIBLE GAP       {name}: every entry was new (poll more often?)")
    lines.append(f"  Prefect UI         {s.get('run_url') or '(no UI configured)'}")
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the monitor on its cron schedule in this process (Prefect `serve`)."""
    path = _monitor_path(args)
    cfg = load_config(path)
    from flows.monitor_flow import monitor_flow

    monitor_flow.serve(
        name=cfg.name,
        cron=args.cron or cfg.schedule,
        parameters={"monitor": path},
        tags=["newsmon", cfg.name],
        limit=1,
    )
    return 0


def cmd_seeds(args: argparse.Namespace) -> int:
    """List the seed corpus as loaded."""
    from monitors.seeds import load_seeds
    from monitors.text import text_hash
    from pipeline.prepare import make_tagger

    cfg = _load(args)
    tagger = make_tagger(cfg)
    rows = []
    for d in load_seeds(cfg.seeds_dir):
        tags = tagger.tag(title=d.title, text=d.text)
        rows.append(
            [
                d.seed_id,
                d.published or "-",
                str(len(d.text)),
                ",".join(tags.topic_names()) or "-",
                text_hash(d.text)[:12],
                d.title[:70],
            ]
        )
    print(f"seed corpus: {cfg.seeds_dir} ({len(rows)} documents)")
    print(_table(rows, ["id", "published", "chars", "topics", "hash", "title"]))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Explain what newsmon would do with a page: JSON with duplicate verdict and topics."""
    from flows.explain import explain

    cfg = _load(args)
    print(json.dumps(explain(cfg, args.target), indent=2, ensure_ascii=False, default=str))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export stored articles or alerts as JSON Lines or CSV."""
    from sqlmodel import Session

    from storage import repository as repo
    from storage.models import AlertPublic, ArticlePublic

    cfg = _load(args)
    with Session(_engine(cfg)) as s:
        if args.what == "articles":
            arts = repo.list_articles(s, monitor=cfg.name)
            tags = repo.tags_for(s, article_ids=[a.id or 0 for a in arts])
            rows: list[dict[str, Any]] = [
                ArticlePublic.model_validate(
                    a,
                    update={"topics": sorted(t.topic for t in tags.get(a.id or 0, []))},
                ).model_dump()
                for a in arts
            ]
            for r in rows:
                r["topics"] = ",".join(r["topics"])
        else:
            rows = [
                AlertPublic.model_validate(a).model_dump()
                for a in repo.list_alerts(s, monitor=cfg.name)
            ]
    buf = io.StringIO()
    if args.format == "jsonl":
        for r in rows:
            buf.write(json.dumps(r, default=str, ensure_ascii=False) + "\n")
    else:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["id"])
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    if args.output:
        Path(args.output).write_text(buf.getvalue(), encoding="utf-8")
    else:
        sys.stdout.write(buf.getvalue())
    if args.output:
        print(f"wrote {len(rows)} {args.what} to {args.output}", file=sys.stderr)
    return 0


def cmd_feeds(args: argparse.Namespace) -> int:
    """Show every feed's health: status, last success, last new item, failure streak, next poll."""
    from sqlmodel import Session

    from storage import repository as repo

    cfg = _load(args)
    with Session(_engine(cfg)) as s:
        feeds = repo.list_feeds(s, monitor=cfg.name)
    rows = [
        [
            f.name,
            f.status,
            _fmt_dt(f.last_success_at),
            _fmt_dt(f.last_new_item_at),
            str(f.consecutive_failures),
            _fmt_dt(f.next_due_at),
            (f.disabled_reason or f.last_error or "")[:80],
        ]
        for f in feeds
    ]
    print(
        _table(
            rows,
            [
                "feed",
                "status",
                "last success",
                "last new item",
                "failures",
                "next poll",
                "last error",
            ],
        )
    )
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """List alerts (pending, sent, dead) or resend dead-lettered ones."""
    from sqlmodel import Session

    from pipeline.deliver import deliver_pending
    from storage import repository as repo
    from storage.db import session_scope

    cfg = _load(args)
    engine = _engine(cfg)
    if args.action == "retry":
        with session_scope(engine) as s:
            n = repo.requeue_dead_alerts(s, monitor=cfg.name, alert_ids=args.ids or None)
        print(f"requeued {n} dead alert(s)")
        report = deliver_pending(cfg, engine)
        print(f"delivered {report.sent}, retrying {report.retrying}, dead {report.dead}")
        for m in report.messages:
            print(f"  {m}")
        return 0
    with Session(engine) as s:
        alerts = repo.list_alerts(s, monitor=cfg.name, status=args.status)
    rows = [
        [
            str(a.id),
            a.channel,
            a.kind,
            a.status,
            str(a.attempts),
            _fmt_dt(a.created_at),
            _fmt_dt(a.sent_at),
            a.subject[:60],
            (a.last_error or "")[:60],
        ]
        for a in alerts
    ]
    print(
        _table(
            rows,
            [
                "id",
                "channel",
                "kind",
                "status",
                "tries",
                "created",
                "sent",
                "subject",
                "last error",
            ],
        )
    )
    return 0


def cmd_developments(args: argparse.Namespace) -> int:
    """List developments: new ones (alerted) and seed-known ones."""
    from sqlmodel import Session

    from storage import repository as repo

    cfg = _load(args)
    with Session(_engine(cfg)) as s:
        devs = repo.list_developments(s, monitor=cfg.name)
    rows = [
        [
            str(d.id),
            d.status,
            _fmt_dt(d.first_seen_at),
            str(d.article_count),
            ",".join(d.topics or []),
            ",".join(d.outlets or [])[:40],
            d.seed_ref or "",
            d.title[:70],
        ]
        for d in devs
    ]
    print(
        _table(
            rows, ["id", "status", "first seen", "articles", "topics", "outlets", "seed", "title"]
        )
    )
    return 0


def cmd_sample_server(args: argparse.Namespace) -> int:
    """Serve the bundled sample feeds and article pages over HTTP (for offline `make run`)."""
    from devtools.samples import serve_samples

    print(f"serving {args.root} on http://{args.host}:{args.port}/", flush=True)
    serve_samples(Path(args.root), host=args.host, port=args.port)
    return 0


# --- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `newsmon`."""
    p = argparse.ArgumentParser(prog="newsmon", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def monitor_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--monitor",
            "-m",
            default=DEFAULT_MONITOR,
            help=f"monitor file (default {DEFAULT_MONITOR})",
        )
        sp.add_argument(
            "--live", action="store_true", help=f"use the real live feeds ({LIVE_MONITOR})"
        )

    sp = sub.add_parser("run", help="one monitoring pass as a Prefect flow run")
    monitor_args(sp)
    sp.add_argument(
        "--due-only",
        action="store_true",
        help="poll only feeds whose next poll time has come (scheduled runs do this); "
        "by default a manual run polls every enabled feed now",
    )
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("serve", help="run the monitor on its schedule through Prefect")
    monitor_args(sp)
    sp.add_argument("--cron", help="override the monitor's cron schedule")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("seeds", help="list the seed corpus as loaded")
    monitor_args(sp)
    sp.set_defaults(func=cmd_seeds)

    sp = sub.add_parser("explain", help="explain the verdict on a local HTML file or a URL")
    monitor_args(sp)
    sp.add_argument("target", help="path of an HTML/text file, or an http(s) URL")
    sp.set_defaults(func=cmd_explain)

    sp = sub.add_parser("export", help="export articles or alerts")
    monitor_args(sp)
    sp.add_argument("what", choices=["articles", "alerts"])
    sp.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    sp.add_argument("--output", "-o", help="file to write (default: standard output)")
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("feeds", help="feed health")
    monitor_args(sp)
    sp.set_defaults(func=cmd_feeds)

    sp = sub.add_parser("alerts", help="list alerts, or `alerts retry` dead-lettered ones")
    monitor_args(sp)
    sp.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    sp.add_argument("ids", nargs="*", type=int, help="alert ids to retry (default: all dead)")
    sp.add_argument("--status", choices=["pending", "sending", "sent", "dead"])
    sp.set_defaults(func=cmd_alerts)

    sp = sub.add_parser("developments", help="list developments")
    monitor_args(sp)
    sp.set_defaults(func=cmd_developments)

    sp = sub.add_parser("sample-server", help="serve the bundled sample feeds")
    sp.add_argument("--root", default="samples")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8765)
    sp.set_defaults(func=cmd_sample_server)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 when the command completed, 2 on a configuration error."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"newsmon: configuration error: {exc}", file=sys.stderr)
        print("nothing was fetched or written.", file=sys.stderr)
        return 2
    except FetchError as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return 1
    except NewsmonError as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
