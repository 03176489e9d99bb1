"""newsmon beside the naive peer (`scripts/naive_peer.py`) on the same feeds, in one run.

    .venv/bin/python -m scripts.bench_peer [--stored 10000] [--quick]

The bundled sample feeds (`samples/`, 6 feeds, 711 entries) are served from a forked child
process on a free loopback port. Both monitors do their first poll of them on an empty store,
then both again on a store already holding `--stored` articles (texts of 7 consecutive
rss2023 entries of one outlet, the same texts for both), which the sample poll then adds to.
Wall time of each; newsmon runs its stage functions in this process (no Prefect), the peer
its `run()`, one after the other.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import yaml

from devtools.samples import make_sample_server
from monitors.config import MonitorConfig, parse_config
from scripts import naive_peer
from scripts.bench_all import machine_lines
from scripts.bench_store import corpus_articles, newsmon_pass, preload_newsmon

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"


def _serve(server: object) -> None:  # in the forked child
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=server.serve_forever, daemon=True).start()  # type: ignore[attr-defined]
    threading.Event().wait()


def sample_config(tmp: Path, base: str, name: str) -> MonitorConfig:
    """config/sample.yaml pointed at the served samples and a fresh SQLite database."""
    text = (REPO / "config" / "sample.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text.replace("http://127.0.0.1:8765", base))
    data["seeds"] = str(REPO / "seeds")
    data["data_dir"] = str(tmp / name)
    data["database_url"] = f"sqlite:///{tmp / name / 'newsmon.db'}"
    return parse_config(data)


def preload_peer(db_path: Path, articles: Iterator[tuple[str, str, str]]) -> int:
    """Store (url, title, text) rows in the peer's table, as its own runs would have."""
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE IF NOT EXISTS article (url TEXT PRIMARY KEY, title TEXT, text TEXT)")
    n = db.executemany("INSERT INTO article VALUES (?, ?, ?)", articles).rowcount
    db.commit()
    db.close()
    return n


def timed(fn: object, *args: object) -> tuple[float, object]:
    """(wall seconds, result) of `fn(*args)`."""
    t = time.perf_counter()
    result = fn(*args)  # type: ignore[operator]
    return time.perf_counter() - t, result


def main() -> int:
    """Serve the samples; newsmon and the peer: first poll, then first poll at N stored."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stored", type=int, default=10_000, help="articles stored beforehand")
    ap.add_argument("--quick", action="store_true", help="--stored 2000")
    args = ap.parse_args()
    stored = 2000 if args.quick else args.stored

    server = make_sample_server(SAMPLES, host="127.0.0.1", port=0)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    child = mp.get_context("fork").Process(target=_serve, args=(server,), daemon=True)
    child.start()
    server.socket.close()
    for line in machine_lines():
        print(line)
    print(f"command: python -m scripts.bench_peer {' '.join(sys.argv[1:])}".rstrip())
    rows: list[tuple[str, float, float, str]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp_name:
            tmp = Path(tmp_name)
            for label, n in (("sample first poll, empty store", 0),
                             (f"sample first poll, {stored:,} stored", stored)):  # fmt: skip
                name = f"store{n}"
                cfg = sample_config(tmp, base, name)
                peer_db = tmp / name / "peer.db"
                peer_db.parent.mkdir(parents=True, exist_ok=True)
                if n:
                    t = time.perf_counter()
                    preload_newsmon(cfg, corpus_articles(n))
                    preload_peer(peer_db, corpus_articles(n))
                    print(f"[{label}] preloaded both stores in {time.perf_counter() - t:.1f} s")
                feeds = [f.url for f in cfg.feeds]
                peer_s, peer_counts = timed(naive_peer.run, str(peer_db), feeds)
                ours_s, ours = timed(newsmon_pass, cfg)
                print(f"[{label}] peer {peer_s:.2f} s {peer_counts}; newsmon {ours_s:.2f} s {ours}")
                rows.append((label, ours_s, peer_s, f"{ours}"))
    finally:
        child.terminate()
        child.join(5)
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print("| pass | newsmon (s) | naive peer (s) | peer / newsmon |")
    print("|---|---:|---:|---:|")
    for label, ours_s, peer_s, _ in rows:
        print(f"| {label} | {ours_s:.2f} | {peer_s:.2f} | **{peer_s / ours_s:.1f}×** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
