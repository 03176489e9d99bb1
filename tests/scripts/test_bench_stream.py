"""The end-to-end vs extraction-only benchmark runs on a tiny site and reports its ratio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~20 s: a site, two fresh interpreters, four extraction workers

REPO = Path(__file__).resolve().parents[2]


def test_a_tiny_run_prints_the_ratio_and_the_peak_rss_and_exits_0() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.bench_stream", "--feeds", "2", "--items", "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ratio end to end / extraction only: " in proc.stdout
    assert "peak RSS of the pipeline process: " in proc.stdout
    assert "| articles | 6 | 6 |" in proc.stdout
