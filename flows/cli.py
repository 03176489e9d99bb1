"""The `newsmon` command line: the parser, the run/serve/explain/sample-server commands and
the error handling every command shares (see `flows.cli_output` for the exit statuses)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from flows.bundled import DEFAULT_SAMPLE_PORT, LIVE_MONITOR, SAMPLE_MONITOR, SAMPLES_DIR
from flows.cli_listings import (
    cmd_alerts,
    cmd_developments,
    cmd_export,
    cmd_feeds,
    cmd_seeds,
    load,
    monitor_path,
)
from flows.cli_output import (
    EXIT_FAILED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliError,
    print_json,
    quiet_broken_pipe,
)
from flows.cli_prefect import StageHandler, ensure_prefect_server, quiet_prefect_console
from monitors.config import MonitorConfig, load_config
from monitors.errors import ConfigError, FetchError, NewsmonError

DEFAULT_MONITOR = str(SAMPLE_MONITOR)


# --- run -----------------------------------------------------------------------------------
def _as_of(value: str) -> datetime:
    """Parse `--as-of`: an ISO 8601 time, taken as UTC when it has no offset."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--as-of: not an ISO 8601 time: {value!r} (e.g. 2023-08-24T12:00:00Z)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _shard(value: str) -> str:
    """Check `--shard` (K/N) as the flow will; returns it unchanged."""
    from monitors.shard import ShardError, parse_shard

    try:
        parse_shard(value)
    except ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def cmd_run(args: argparse.Namespace) -> int:
    """One monitoring pass as a Prefect flow run; prints the summary and the run's URL."""
    path = str(Path(monitor_path(args)).resolve())
    cfg = load_config(path)  # a bad file stops here, before any work
    from flows.preflight import preflight

    preflight(cfg)  # seeds, data folder, database: before a flow run or a database exists
    quiet_prefect_console()
    api, local = ensure_prefect_server()
    part = f" of shard {args.shard}" if args.shard else ""
    print(
        f'newsmon: monitor "{cfg.name}": running one pass{part} (Prefect API {api})',
        file=sys.stderr,
    )
    from prefect import tags

    from flows.monitor_flow import monitor_flow
    from flows.verdict import EXIT_FAILED, judge
    from pipeline.summary import PassSummary

    handler = StageHandler()
    loggers = [logging.getLogger(n) for n in ("prefect.flow_runs", "prefect.task_runs")]
    for lg in loggers:
        lg.addHandler(handler)
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    updates = {PREFECT_API_URL: api, PREFECT_UI_URL: api.removesuffix("/api")} if local else {}
    try:
        with temporary_settings(updates=updates), tags("newsmon", cfg.name):
            state = monitor_flow(
                monitor=path,
                force=not args.due_only,
                as_of=args.as_of,
                shard=args.shard,
                return_state=True,
            )
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, PassSummary):  # the run itself failed: raise what it raised
        state.result()
        raise NewsmonError(f"the flow run ended {state.name}: {state.message}")
    print(format_summary(cfg, summary.as_dict()))
    for line in summary.crashed_runs:
        print(f"  CRASHED RUN        {line}")
    verdict = judge(summary.as_dict())
    if verdict.exit_code:
        print(f"newsmon: {verdict.headline} (exit {verdict.exit_code})", file=sys.stderr)
    return EXIT_FAILED if state.is_failed() else verdict.exit_code


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
    if s.get("round_note"):
        lines.append(f"  shard round        {s['round_note']}")
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
    """Run the monitor on its cron schedule in this process (deployment `<monitor>-serve`)."""
    path = monitor_path(args)
    cfg = load_config(path)
    from flows.serve import serve

    return serve(cfg, path, args.cron or cfg.schedule)


# --- explain, sample server ----------------------------------------------------------------
def cmd_explain(args: argparse.Namespace) -> int:
    """Explain what newsmon would do with a page: JSON with duplicate verdict and topics."""
    from flows.explain import explain

    cfg = load(args)
    print_json(explain(cfg, args.target))
    return 0


def cmd_sample_server(args: argparse.Namespace) -> int:
    """Serve the bundled sample feeds and article pages over HTTP (for offline `make run`)."""
    from devtools.samples import make_sample_server

    try:
        server = make_sample_server(Path(args.root), host=args.host, port=args.port)
    except FileNotFoundError as exc:
        raise CliError(str(exc), status=EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(
            f"sample-server: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})",
            remedy="stop what uses that port, or pick another with --port "
            "(and set NEWSMON_SAMPLE_PORT to the same for the sample monitor)",
            status=EXIT_UNAVAILABLE,
        ) from None
    print(f"serving {args.root} on http://{args.host}:{args.port}/", flush=True)
    if args.port != DEFAULT_SAMPLE_PORT and os.environ.get("NEWSMON_SAMPLE_PORT") != str(args.port):
        print(
            f"the sample monitor polls port {DEFAULT_SAMPLE_PORT} unless "
            f"NEWSMON_SAMPLE_PORT={args.port} is set for `newsmon run`",
            flush=True,
        )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


# --- parser --------------------------------------------------------------------------------
def _version() -> str:
    try:
        return version("newsmon")
    except PackageNotFoundError:
        return "unknown"


class _Parser(argparse.ArgumentParser):
    """argparse with newsmon's error format: one line, a remedy, exit status 2."""

    def error(self, message: str) -> Any:
        """Report a bad argument as `newsmon: <message>` plus where to find the usage."""
        command = self.prog.removeprefix("newsmon").strip()
        raise CliError(
            f"{command}: {message}" if command else message,
            remedy=f"see `{self.prog} --help`",
            status=EXIT_USAGE,
        )


def _monitor_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--monitor",
        "-m",
        default=os.environ.get("NEWSMON_MONITOR", DEFAULT_MONITOR),
        help="monitor file (default $NEWSMON_MONITOR, else the bundled sample monitor)",
    )
    sp.add_argument(
        "--live", action="store_true", help=f"use the real live feeds ({LIVE_MONITOR.name})"
    )


def _json_arg(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--json", action="store_true", help="print JSON instead of a table")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `newsmon`."""
    p = _Parser(prog="newsmon", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--version", action="version", version=f"newsmon {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sp = sub.add_parser("run", help="one monitoring pass as a Prefect flow run")
    _monitor_args(sp)
    sp.add_argument(
        "--due-only",
        action="store_true",
        help="poll only feeds whose next poll time has come (scheduled runs do this); "
        "by default a manual run polls every enabled feed now",
    )
    sp.add_argument(
        "--as-of",
        type=_as_of,
        metavar="ISO_TIME",
        help="run the pass as if the clock read this UTC time (replaying past news, e.g. "
        "2023-08-24T12:00:00Z): development windows, seed dates, feed health and delivery "
        "follow it",
    )
    sp.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="poll only the K-th of N shares of the monitor's feeds (positions K-1, K-1+N, ... "
        "of its feed list); runs of different shards overlap while polling",
    )
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("serve", help="run the monitor on its schedule through Prefect")
    _monitor_args(sp)
    sp.add_argument("--cron", help="override the monitor's cron schedule")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("seeds", help="list the seed corpus as loaded")
    _monitor_args(sp)
    _json_arg(sp)
    sp.set_defaults(func=cmd_seeds)

    sp = sub.add_parser("explain", help="explain the verdict on a local HTML file or a URL (JSON)")
    _monitor_args(sp)
    sp.add_argument("target", help="path of an HTML/text file, or an http(s) URL")
    sp.set_defaults(func=cmd_explain)

    sp = sub.add_parser("export", help="export articles or alerts")
    _monitor_args(sp)
    sp.add_argument("what", choices=["articles", "alerts"])
    sp.add_argument("--format", choices=["jsonl", "json", "csv"], default="jsonl")
    sp.add_argument("--json", action="store_true", help="the same as --format json")
    sp.add_argument("--output", "-o", help="file to write (default: standard output)")
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("feeds", help="feed health; `feeds import FILE.opml`, `feeds export`")
    _monitor_args(sp)
    _json_arg(sp)
    sp.add_argument("action", nargs="?", choices=["list", "import", "export"], default="list")
    sp.add_argument("file", nargs="?", help="the OPML file to import")
    sp.add_argument("--output", "-o", help="export: file to write (default: standard output)")
    sp.set_defaults(func=cmd_feeds)

    sp = sub.add_parser("alerts", help="list alerts, or `alerts retry` dead-lettered ones")
    _monitor_args(sp)
    _json_arg(sp)
    sp.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    sp.add_argument("ids", nargs="*", type=int, help="alert ids to retry (default: all dead)")
    sp.add_argument("--status", choices=["pending", "sending", "sent", "dead"])
    sp.set_defaults(func=cmd_alerts)

    sp = sub.add_parser("developments", help="list developments")
    _monitor_args(sp)
    _json_arg(sp)
    sp.set_defaults(func=cmd_developments)

    sp = sub.add_parser("sample-server", help="serve the bundled sample feeds")
    sp.add_argument("--root", default=str(SAMPLES_DIR))
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("NEWSMON_SAMPLE_PORT") or DEFAULT_SAMPLE_PORT),
    )
    sp.set_defaults(func=cmd_sample_server)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; the exit statuses are listed in `flows.cli_output` and the README."""
    try:
        args = build_parser().parse_args(argv)
        status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except CliError as exc:
        sys.stderr.write(exc.render())
        return exc.status
    except ConfigError as exc:
        print(f"newsmon: configuration error: {exc}", file=sys.stderr)
        print("nothing was fetched or written.", file=sys.stderr)
        return EXIT_USAGE
    except FetchError as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except NewsmonError as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        quiet_broken_pipe()
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
