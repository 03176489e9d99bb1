"""Run every benchmark in sequence, each in its own process: what `make bench` runs.

    .venv/bin/python -m scripts.bench_all [--quick] [NAME ...]

Prints the machine (CPUs, CPU model, Python, date), then each benchmark's output as it runs.
A benchmark whose module does not exist yet is skipped with a message. `--quick` is passed
through; NAMEs (e.g. `fetch dedup`) pick some of the benchmarks. Exits non-zero when one fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = (
    "scripts.bench_fetch",
    "scripts.bench_dedup",
    "scripts.bench_topics",
    "scripts.bench_orchestration",
    "scripts.bench_pass",
    "scripts.bench_peer",
    "scripts.bench_scaleout",
    "scripts.bench_stream",
)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() in ("model name", "Model", "Hardware"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_lines() -> list[str]:
    """The machine, as printed at the top of a benchmark run."""
    online = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else online
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return [
        f"date:    {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"machine: nproc {usable} (of {online} online), {cpu_model()}"
        + (f", {mem} RAM" if mem else ""),
        f"system:  {platform.system()} {platform.release()} {platform.machine()}",
        f"python:  {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable})",
        f"load:    {load} (1, 5, 15 min)",
    ]


def module_path(module: str) -> Path:
    """The file of a `scripts.X` module in this checkout."""
    return REPO.joinpath(*module.split(".")).with_suffix(".py")


def run(module: str, quick: bool) -> int:
    """Run one benchmark module in a fresh interpreter, its output going straight to ours."""
    cmd = [sys.executable, "-m", module, *(["--quick"] if quick else [])]
    print(f"\n{'=' * 78}\n## {module}\n$ {' '.join(cmd[1:])}\n", flush=True)
    start = time.perf_counter()
    rc = subprocess.call(cmd, cwd=REPO)
    took = time.perf_counter() - start
    verdict = "ok" if rc == 0 else f"FAILED (exit code {rc})"
    print(f"\n-- {module}: {verdict} in {took:.0f} s", flush=True)
    return rc


def main() -> int:
    """Print the machine, run the benchmarks that exist, return non-zero if one failed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    ap.add_argument("names", nargs="*", help="run only these (fetch, dedup, topics, ...)")
    args = ap.parse_args()
    selected = [
        m for m in BENCHMARKS if not args.names or m.removeprefix("scripts.bench_") in args.names
    ]
    unknown = set(args.names) - {m.removeprefix("scripts.bench_") for m in BENCHMARKS}
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    print("# newsmon benchmarks" + (" (--quick)" if args.quick else ""))
    for line in machine_lines():
        print(line)
    results: dict[str, str] = {}
    for module in selected:
        if not module_path(module).exists():
            print(f"\n-- {module}: skipped ({module_path(module).relative_to(REPO)} not found)")
            results[module] = "skipped"
            continue
        rc = run(module, args.quick)
        results[module] = "ok" if rc == 0 else f"failed ({rc})"
    print(f"\n{'=' * 78}\n## summary")
    for module, verdict in results.items():
        print(f"{module:32} {verdict}")
    return 1 if any(v.startswith("failed") for v in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
