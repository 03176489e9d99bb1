"""Scale-out on workers: two process workers share the runs of two deployments, one database.

The code of `scripts/scaleout_demo.py` on a small local site: a Prefect server (on PostgreSQL),
a process work pool, two deployments with a concurrency limit of 1, two
`prefect worker start --limit 1` processes, two runs of each deployment triggered at once, and
newsmon's storage in one shared PostgreSQL database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.scaleout_demo import report, run_scaleout
from scripts.scaleout_demo_setup import MonitorSpec
from tests.conftest import POSTGRES_ADMIN_URL, require_postgres
from tests.support.httpserver import LocalHTTPServer
from tests.support.newsfixture import serve_feed, serve_sample

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ARRIVES = ("guardian", "686b5362458d")  # Kim arrives in Russia to meet Putin: a new development
UNRELATED = ("guardian", "0952f64a7765")  # UK ticket resellers: out of scope
SEED_COPY = ("guardian", "8506a2e848a0")  # a syndicated copy of seed 003: known, no alert


def test_two_workers_share_runs_without_duplicates(site: LocalHTTPServer, tmp_path: Path) -> None:
    require_postgres()
    a = [serve_sample(site, *ARRIVES), serve_sample(site, *UNRELATED)]
    b = [serve_sample(site, *SEED_COPY)]
    monitors = [
        MonitorSpec("scale-a", {"a-world": serve_feed(site, "/a.xml", a)}),
        MonitorSpec("scale-b", {"b-world": serve_feed(site, "/b.xml", b)}),
    ]

    result = run_scaleout(
        monitors,
        folder=tmp_path,
        runs=2,
        workers=2,
        timeout=240,
        admin_url=POSTGRES_ADMIN_URL,
        log=print,
    )

    print(report(result))
    assert result.check() == [], report(result)
    assert len(result.runs) == 4
    assert {r.worker for r in result.runs} == {"worker-1", "worker-2"}
    # the runs of one deployment ran one after the other: the first stored, the next found nothing
    for name, stored in (("scale-a", 2), ("scale-b", 1)):
        news = sorted(
            (r.new_articles or 0 for r in result.runs if r.deployment == name), reverse=True
        )
        assert news == [stored, 0], report(result)
    assert result.articles == {"scale-a": 2, "scale-b": 1}
    assert result.alerts == {"scale-a": 1, "scale-b": 0}  # one new development, outbox only
    assert result.duplicate_articles == [] and result.duplicate_alerts == []
