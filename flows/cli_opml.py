"""`newsmon feeds import FILE.opml` and `newsmon feeds export`: OPML in and out of a monitor."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from flows.cli_listings import load, monitor_path
from flows.cli_output import EXIT_OK, EXIT_USAGE, CliError, print_json
from monitors.config import expand_env, parse_config
from monitors.opml import build_opml, feed_line, feed_name, insert_feeds, parse_opml


def cmd_feeds_import(args: argparse.Namespace) -> int:
    """Add an OPML file's feeds to the monitor file: validated, no duplicates, comments kept."""
    if not args.file:
        raise CliError(
            "feeds import: which OPML file?",
            remedy="newsmon feeds import FILE.opml --monitor MONITOR.yaml",
            status=EXIT_USAGE,
        )
    cfg = load(args)  # the monitor file must be valid before it is changed
    target = Path(monitor_path(args))
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise CliError(
            f"feeds import: cannot read {args.file} ({exc.strerror or exc})",
            remedy="check the path of the OPML file",
            status=EXIT_USAGE,
        ) from None
    feeds = parse_opml(data, source=args.file)
    known_urls = {f.url.rstrip("/") for f in cfg.feeds}
    taken = {f.name.lower() for f in cfg.feeds}
    added: list[dict[str, str]] = []
    skipped: list[dict[str, str]] = []
    lines = []
    for f in feeds:
        if f.url.rstrip("/") in known_urls:
            skipped.append({"url": f.url, "reason": "already in the monitor"})
            continue
        if not f.url.startswith(("http://", "https://")):
            skipped.append({"url": f.url, "reason": "not an http(s) URL"})
            continue
        name = feed_name(f.title or f.text, f.url, taken)
        taken.add(name.lower())
        known_urls.add(f.url.rstrip("/"))
        lines.append(feed_line(name, f.url, f.text or None))
        added.append({"name": name, "url": f.url})
    text = target.read_text(encoding="utf-8")
    new_text = insert_feeds(text, lines, source=str(target))
    import yaml

    parse_config(
        yaml.safe_load(expand_env(new_text, source=str(target))), source=str(target), path=target
    )  # the result must validate, or nothing is written
    if lines:
        _atomic_write(target, new_text)
    if args.json:
        print_json({"monitor": str(target), "added": added, "skipped": skipped})
        return EXIT_OK
    print(f"added {len(added)} feed(s) to {target}; skipped {len(skipped)}")
    for a in added:
        print(f"  + {a['name']}: {a['url']}")
    for sk in skipped:
        print(f"  = {sk['url']}: {sk['reason']}")
    return EXIT_OK


def cmd_feeds_export(args: argparse.Namespace) -> int:
    """Write the monitor's feeds as OPML 2.0 (standard output or --output)."""
    cfg = load(args)
    opml = build_opml(
        f"newsmon monitor {cfg.name}", [(f.name, f.outlet_name, f.url) for f in cfg.feeds]
    )
    if args.output:
        Path(args.output).write_text(opml, encoding="utf-8")
        print(f"wrote {len(cfg.feeds)} feed(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(opml)
    return EXIT_OK


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
