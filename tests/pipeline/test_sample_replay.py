"""The bundled sample feeds through a whole pass: what `make run` shows a new user."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlmodel import Session

from devtools.samples import make_sample_server
from monitors.clock import utcnow
from monitors.config import load_config, parse_config
from pipeline.run import run_pass
from storage import repo_alerts, repo_feeds
from storage import repository as repo
from storage.db import get_engine

REPO = Path(__file__).resolve().parents[2]
LAVROV = ["nbcnews-world/6c9eef394414", "guardian/01ba64d516b9"]  # covered by seed 003
SEED_COPY = "guardian/8506a2e848a0"
SANCTIONS_31_AUG = "wsj-world/2dcbc2b0f61f"  # U.S. sanctions a Russian company: must alert


def test_sample_pass_alerts_new_developments_and_not_what_the_seeds_cover(
    tmp_path: Path,
) -> None:
    server = make_sample_server(REPO / "samples", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        sample = load_config(REPO / "config" / "sample.yaml").model_dump(by_alias=True)
        for feed in sample["feeds"]:
            feed["url"] = feed["url"].replace("http://127.0.0.1:8765", base)
        sample.update(
            seeds=str(REPO / "seeds"),
            data_dir=str(tmp_path),
            database_url=f"sqlite:///{tmp_path / 'n.db'}",
        )
        cfg = parse_config(sample)
        engine = get_engine(cfg.resolved_database_url)
        summary = run_pass(cfg, engine, now=utcnow())
    finally:
        server.shutdown()
        server.server_close()
    assert summary.entries_seen == 711
    by_url = {
        o.url.removeprefix(base + "/articles/").removesuffix(".html"): o for o in summary.outcomes
    }
    copy = by_url[SEED_COPY]
    assert copy.duplicate is not None and copy.duplicate.ref == "003_4a941d7cde7f6a05"
    with Session(engine) as s:
        devs = {d.id: d for d in repo.list_developments(s, monitor=cfg.name)}
        alerts = repo_alerts.list_alerts(s, monitor=cfg.name)
    for key in LAVROV:
        dev = devs[by_url[key].development_id or 0]
        assert (dev.status, dev.seed_ref) == ("known", "003_4a941d7cde7f6a05"), key
        assert by_url[key].alerts == 0
    assert by_url[SANCTIONS_31_AUG].alerts == 1
    alerted = [a.development_id for a in alerts]
    assert len(alerted) == len(set(alerted)), "one alert per development"
    assert all(devs[d or 0].status == "new" for d in alerted)
    assert 1 <= len(alerts) <= 6
    assert summary.alerts_created == summary.alerts_sent == len(alerts)
    with Session(engine) as s:
        (run,) = repo_feeds.list_runs(s, monitor=cfg.name)
    assert run.finished_at is not None and run.summary == summary.as_dict()
