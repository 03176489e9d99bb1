"""The development index each pass rebuilds from the database holds what the pass that stored
the reports knew: each report's own headline topics, not every topic of its body."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import Session

from pipeline.assign import build_development_index
from pipeline.prepare import prepare
from storage.db import get_engine
from storage.models import Article
from tests.pipeline.test_running_story import T0, config, report, run


def test_the_rebuilt_index_keeps_each_reports_headline_topics(
    tmp_path: Path, sqlite_url: str
) -> None:
    cfg = config(tmp_path, sqlite_url)
    engine = get_engine(sqlite_url)
    prepare(cfg, engine, now=T0, force=True)
    body = "The Kremlin said Putin would not comment. A funeral is expected later in the week."
    first = report("bbc-news", 1, "Prigozhin plane crash: private jet falls in Tver region",
                   f"The jet crashed with ten people on board. {body}", T0)  # fmt: skip
    second = report("guardian", 2, "Prigozhin plane crash: ten bodies found at the crash site",
                    f"Rescuers reached the wreckage of the crashed jet. {body}",
                    T0 + timedelta(minutes=30))  # fmt: skip
    out = run(cfg, sqlite_url, [first, second], T0 + timedelta(hours=1))
    (dev_id,) = {o.development_id for o in out}
    assert dev_id is not None, [o.note for o in out]
    with Session(engine) as s:
        index = build_development_index(cfg, s, now=T0 + timedelta(hours=2))
        stored = s.query(Article).count()
    ref = index.get(str(dev_id))
    assert stored == 2
    # both bodies name the Kremlin and a funeral; neither headline does
    assert {"kremlin", "funeral"} <= ref.topics
    assert ref.headline_topics == {"crash"}
